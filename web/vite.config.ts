import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The API runs on the same origin in production; in development Vite forwards to it.
const api = process.env.KRSN_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    sourcemap: false,
    // Vite must not inline a module-preload polyfill: the CSP allows no inline script.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          // The graph and chart libraries stay in the lazily loaded chunks of the pages that
          // use them; naming a chunk for them would let shared helpers pull it into the first load.
          if (id.includes("node_modules/@mantine")) return "mantine";
          if (/node_modules\/(react|react-dom|react-router|react-router-dom|scheduler)\//.test(id)) return "react";
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      "/api": { target: api, ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
  },
});
