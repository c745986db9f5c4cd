import { createTheme, Drawer, Modal } from "@mantine/core";

// Dense defaults for a console; colours stay the library's (its static CSS defines them,
// with darker shades for contrast in styles.css).
export const theme = createTheme({
  defaultRadius: "sm",
  fontSizes: { md: "0.9rem" },
  components: {
    // Locking the page's scroll writes a <style> element at run time, which the CSP refuses.
    // The close button is an icon: it needs a name (axe counts a nameless button as critical).
    Modal: Modal.extend({ defaultProps: { lockScroll: false, closeButtonProps: { "aria-label": "Close" } } }),
    Drawer: Drawer.extend({ defaultProps: { lockScroll: false, closeButtonProps: { "aria-label": "Close" } } }),
  },
});
