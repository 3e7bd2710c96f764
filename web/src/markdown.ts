/** A small Markdown-to-DOM renderer for the project's own documents (the security model): headings,
 * paragraphs, lists, tables, code blocks and inline code. Text only ever becomes text nodes, never
 * HTML, so a document cannot inject markup into the page. */
import { h } from "./ui";

/** Inline `code` spans as <code>; everything else as text (links keep their label). */
function inline(text: string): (Node | string)[] {
  const plain = text.replace(/\[([^\]]+)\]\([^)]*\)/g, "$1").replace(/\*\*([^*]+)\*\*/g, "$1");
  return plain.split(/(`[^`]+`)/).map((part) => (part.startsWith("`") && part.endsWith("`") && part.length > 1 ? h("code", {}, part.slice(1, -1)) : part));
}

function tableFrom(lines: string[]): HTMLElement {
  const cells = (line: string) => line.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
  const [head, , ...body] = lines;
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...cells(head).map((c) => h("th", { scope: "col" }, ...inline(c))))),
    h("tbody", {}, ...body.map((row) => h("tr", {}, ...cells(row).map((c) => h("td", {}, ...inline(c)))))),
  );
}

export function renderMarkdown(source: string, headingOffset = 1): HTMLElement {
  const out = h("div", { class: "doc" });
  const lines = source.split("\n");
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    const take = (test: (l: string) => boolean) => {
      const block: string[] = [];
      while (i < lines.length && test(lines[i])) block.push(lines[i++]);
      return block;
    };
    if (line.startsWith("```")) {
      i++;
      const code = take((l) => !l.startsWith("```"));
      i++;
      out.append(h("pre", {}, h("code", {}, code.join("\n"))));
    } else if (/^#{1,6} /.test(line)) {
      const level = Math.min(6, line.indexOf(" ") + headingOffset);
      out.append(h(`h${level}` as "h2", {}, ...inline(line.slice(line.indexOf(" ") + 1))));
      i++;
    } else if (line.startsWith("|")) {
      out.append(tableFrom(take((l) => l.startsWith("|"))));
    } else if (/^\s*[-*] /.test(line)) {
      const items = take((l) => /^\s*[-*] /.test(l) || /^\s{2,}\S/.test(l));
      const merged = items.reduce<string[]>((acc, l) => (/^\s*[-*] /.test(l) ? [...acc, l.replace(/^\s*[-*] /, "")] : [...acc.slice(0, -1), `${acc.at(-1)} ${l.trim()}`]), []);
      out.append(h("ul", {}, ...merged.map((item) => h("li", {}, ...inline(item)))));
    } else if (line.trim() === "") {
      i++;
    } else {
      out.append(h("p", {}, ...inline(take((l) => l.trim() !== "" && !/^(#|\||```|\s*[-*] )/.test(l)).join(" "))));
    }
  }
  return out;
}
