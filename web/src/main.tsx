import "@mantine/core/styles.css";
import "./styles.css";

import { MantineProvider, Center, Loader } from "@mantine/core";
import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, RouterProvider } from "react-router-dom";

import { ApiError } from "./api/client";
import { AuthProvider, ME_KEY, useAuth } from "./app/auth";
import { ROUTES } from "./app/routes";
import { Shell } from "./app/Shell";
import { theme } from "./app/theme";
import { FirstLoginPassword } from "./pages/auth/ChangePassword";
import { SignIn } from "./pages/auth/SignIn";
import { ProblemAlert } from "./components/ProblemAlert";

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({
    onError: (error) => {
      // A session that ended mid-use sends the person back to the sign-in form.
      if (error instanceof ApiError && error.status === 401) queryClient.setQueryData(ME_KEY, null);
    },
  }),
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      refetchOnWindowFocus: false,
      retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
    },
  },
});

const router = createBrowserRouter([{ path: "/", element: <Shell />, children: ROUTES }]);

function Gate() {
  const auth = useAuth();
  if (auth.loading) {
    return (
      <Center mih="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (auth.error) return <ProblemAlert error={auth.error} />;
  if (!auth.me) return <SignIn />;
  if (auth.me.user.must_change_password) return <FirstLoginPassword />;
  return <RouterProvider router={router} />;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    {/* No runtime <style> elements: the CSP allows only the built stylesheet. */}
    <MantineProvider theme={theme} withCssVariables={false} withGlobalClasses={false}>
      <QueryClientProvider client={queryClient}>
        <AuthProvider>
          <Gate />
        </AuthProvider>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
