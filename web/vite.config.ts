import { defineConfig } from "vite";

// The app is served by `copyvault serve` at `/` (same origin as the API), so every request it
// makes is relative and nothing loads from another host: no CDN, everything is in the bundle.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // The JSON files the Python side writes live outside web/ (backend/chain/); allow them.
    assetsInlineLimit: 0,
  },
  server: { fs: { allow: [".."] } },
});
