// Server-sent events read with fetch(): EventSource cannot send `x-user`. Resumes after a
// dropped connection with Last-Event-ID, as EventSource would, so no event is lost.
import { identityHeaders } from "./api.js";

export class EventStream {
  constructor(path, onEvent, onState = () => {}) {
    this.path = path;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.retryMs = 2000;
    this.controller = null;
    this.stopped = false;
    this.connections = 0;
  }

  start() {
    this.stopped = false;
    this.#run();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async #run() {
    while (!this.stopped) {
      this.controller = new AbortController();
      const headers = identityHeaders({ accept: "text/event-stream" });
      if (this.lastId !== null) headers.set("Last-Event-ID", this.lastId);
      try {
        const response = await fetch(this.path, { headers, signal: this.controller.signal, cache: "no-store" });
        if (!response.ok) throw new Error(`events: HTTP ${response.status}`);
        // A reconnect with no event id yet cannot resume: the caller reloads what it shows.
        this.onState("live", { reconnected: this.connections > 0, resumed: headers.has("Last-Event-ID") });
        this.connections += 1;
        await this.#read(response.body.getReader());
      } catch (error) {
        if (this.stopped) return;
      }
      this.onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    }
  }

  async #read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        this.#dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  #dispatch(block) {
    let type = "message";
    const data = [];
    let id = null;
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue; // a keepalive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
      else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    if (id !== null) this.lastId = id;
    if (!data.length) return;
    let payload;
    try {
      payload = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    this.onEvent(type, payload);
  }
}
