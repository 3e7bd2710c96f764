/** Small DOM helpers: every page is built from these, no framework. */
import { describe } from "./errors";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

/** An element with attributes (`on*` keys become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

let fieldCounter = 0;

/** A labelled input: the label is tied to the input so screen readers announce it. */
export function field(
  label: string,
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
) {
  input.id ||= `field-${++fieldCounter}`;
  const hintEl = hint ? h("small", { id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hintEl);
}

export function input(name: string, value = "", attrs: Attrs = {}): HTMLInputElement {
  return h("input", { name, value, autocomplete: "off", ...attrs });
}

/** A table from a header row and body rows. */
export function table(caption: string, head: string[], rows: Child[][]): HTMLTableElement {
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...head.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, ...rows.map((row) => h("tr", {}, ...row.map((cell) => h("td", {}, cell))))),
  );
}

/** A live region for one action's progress and outcome (screen readers hear each update). */
export class Status {
  readonly el = h("p", { class: "status", role: "status", "aria-live": "polite" });

  constructor(readonly name: string) {
    this.el.dataset.status = name;
  }

  show(kind: "pending" | "ok" | "error" | "info", text: string): void {
    this.el.dataset.kind = kind;
    this.el.textContent = text;
  }
}

/** A form for one action: a titled section, its fields, a submit button and a status line that
 * shows the action's progress and, when it fails, the failure as a sentence. */
export function actionForm(
  options: { id: string; title: string; level?: "h2" | "h3"; button: string; status: Status },
  action: () => Promise<void>,
  ...fields: Child[]
): HTMLFormElement {
  const { id, title, level = "h2", button, status } = options;
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await action();
    } catch (error) {
      status.show("error", describe(error));
    }
  };
  return h(
    "form",
    { "aria-labelledby": id, onsubmit: (event: Event) => void submit(event) },
    h(level, { id }, title),
    ...fields,
    h("button", { type: "submit" }, button),
    status.el,
  );
}

/** Re-render the current page (after an action changed what it shows). */
export function refresh(): void {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** A titled section whose content loads on its own: if it fails, the section says why in a
 * sentence and the rest of the page still shows. */
export async function section(id: string, title: string, body: () => Promise<HTMLElement>): Promise<HTMLElement> {
  let content: HTMLElement;
  try {
    content = await body();
  } catch (error) {
    content = h("p", { class: "status", "data-kind": "info" }, describe(error));
  }
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), content);
}
