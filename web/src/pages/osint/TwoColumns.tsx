// Two panels side by side, wrapping on narrow screens. Not SimpleGrid: it always renders a
// <style> element, which the CSP refuses.
import { Box, Flex } from "@mantine/core";
import { Children, type ReactNode } from "react";

export function TwoColumns({ children }: { children: ReactNode }) {
  return (
    <Flex gap="md" align="stretch" wrap="wrap">
      {Children.map(children, (child) => (
        <Box style={{ flex: "1 1 420px", minWidth: 0, display: "flex", flexDirection: "column" }}>{child}</Box>
      ))}
    </Flex>
  );
}
