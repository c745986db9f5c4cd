// The live stream (WebSocket /api/v1/stream): events invalidate the queries they affect.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";

export interface StreamEvent {
  topic: string;
  at: string;
  payload: Record<string, unknown>;
}

/** Subscribe while mounted; reconnects with back-off; calls onEvent for each event. */
export function useStream(topics: string[], onEvent?: (event: StreamEvent) => void) {
  const client = useQueryClient();
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = topics.join(",");
  useEffect(() => {
    let socket: WebSocket | null = null;
    let stopped = false;
    let delay = 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      const query = key ? `?topics=${encodeURIComponent(key)}` : "";
      socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/stream${query}`);
      socket.onopen = () => {
        delay = 1000;
      };
      socket.onmessage = (message) => {
        let event: StreamEvent;
        try {
          event = JSON.parse(String(message.data)) as StreamEvent;
        } catch {
          return;
        }
        // stream.ready and stream.heartbeat only say the connection is alive.
        if (!event.topic || event.topic.startsWith("stream.")) {
          handler.current?.(event);
          return;
        }
        const family = event.topic.split(".")[0];
        void client.invalidateQueries({ queryKey: [`${family}s`] });
        void client.invalidateQueries({ queryKey: ["dashboard"] });
        handler.current?.(event);
      };
      socket.onclose = (closed) => {
        // 4401/4403: signed out or not allowed; reconnecting cannot help.
        if (stopped || closed.code === 4401 || closed.code === 4403 || closed.code === 4400) return;
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30_000);
      };
    };
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close();
    };
  }, [client, key]);
}
