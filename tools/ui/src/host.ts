// The view's side of the MCP Apps protocol (extension io.modelcontextprotocol/ui,
// version 2026-01-26): JSON-RPC 2.0 over postMessage with the window that
// embeds this page. The message types come from @modelcontextprotocol/ext-apps
// and are imported as types only: the package's App class would bring its
// schema library into the page (some 500 KB), and the protocol a view needs is
// this small.

import type { CallToolRequest, CallToolResult } from '@modelcontextprotocol/client';
import type {
  McpUiHostContext,
  McpUiInitializeRequest,
  McpUiInitializeResult,
  McpUiOpenLinkRequest,
  McpUiOpenLinkResult,
  McpUiSizeChangedNotification,
} from '@modelcontextprotocol/ext-apps';

// PROTOCOL_VERSION is the MCP Apps version this view speaks.
export const PROTOCOL_VERSION = '2026-01-26';

// Requests this view sends, with their parameters and results.
interface Requests {
  'ui/initialize': [McpUiInitializeRequest['params'], McpUiInitializeResult];
  'tools/call': [CallToolRequest['params'], CallToolResult];
  'ui/open-link': [McpUiOpenLinkRequest['params'], McpUiOpenLinkResult];
}

// Notifications this view sends.
interface Notifications {
  'ui/notifications/initialized': Record<string, never>;
  'ui/notifications/size-changed': McpUiSizeChangedNotification['params'];
}

// HostEvents are what the host tells the view.
export interface HostEvents {
  toolInput(args: Record<string, unknown>): void;
  toolResult(result: CallToolResult): void;
  toolCancelled(reason: string): void;
  contextChanged(context: McpUiHostContext): void;
}

// JSON-RPC error codes this view answers with.
const METHOD_NOT_FOUND = -32601;

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
}

// HostError is a JSON-RPC error the host answered with; its message is the
// host's, shown as text.
export class HostError extends Error {}

// Host is the connection to the embedding host.
export class Host {
  private nextID = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly peer: Window,
    private readonly events: HostEvents,
  ) {
    window.addEventListener('message', (event) => {
      // Only the window that embeds this page speaks for the host; a message
      // from anywhere else (another frame, an opened window) is ignored.
      if (event.source !== this.peer) return;
      this.receive(event.data);
    });
  }

  // initialize performs the handshake and returns what the host offers.
  async initialize(): Promise<McpUiInitializeResult> {
    const result = await this.request('ui/initialize', {
      appInfo: { name: 'plannr-mcp-dashboard', version: '1.0.0' },
      appCapabilities: { availableDisplayModes: ['inline'] },
      protocolVersion: PROTOCOL_VERSION,
    });
    this.notify('ui/notifications/initialized', {});
    return result;
  }

  // callTool asks the host to call a tool of this server. It has no time
  // limit: a delete waits for a person to confirm it.
  callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    return this.request('tools/call', { name, arguments: args });
  }

  // openLink asks the host to open url in the person's browser.
  async openLink(url: string): Promise<void> {
    const result = await this.request('ui/open-link', { url });
    if (result?.isError) throw new HostError('The host did not open the link.');
  }

  sizeChanged(width: number, height: number): void {
    this.notify('ui/notifications/size-changed', { width, height });
  }

  private request<M extends keyof Requests>(method: M, params: Requests[M][0]): Promise<Requests[M][1]> {
    const id = this.nextID++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  private notify<M extends keyof Notifications>(method: M, params: Notifications[M]): void {
    this.send({ jsonrpc: '2.0', method, params });
  }

  private send(message: object): void {
    // The host's origin is not known to a sandboxed view (hosts serve views
    // from opaque or per-conversation origins), hence '*'; the peer is the
    // embedding window itself, never a window found by name.
    this.peer.postMessage(message, '*');
  }

  private receive(data: unknown): void {
    if (!isObject(data) || data.jsonrpc !== '2.0') return;
    const { id, method } = data;
    if (typeof method === 'string') {
      if (id === undefined) this.notification(method, data.params);
      else this.answer(id, method);
      return;
    }
    if (typeof id !== 'number') return;
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (isObject(data.error)) {
      const message = typeof data.error.message === 'string' ? data.error.message : 'The host refused the request.';
      pending.reject(new HostError(message));
    } else {
      pending.resolve(data.result);
    }
  }

  private notification(method: string, params: unknown): void {
    const p = isObject(params) ? params : {};
    switch (method) {
      case 'ui/notifications/tool-input':
        this.events.toolInput(isObject(p.arguments) ? p.arguments : {});
        break;
      case 'ui/notifications/tool-result':
        this.events.toolResult(p as CallToolResult);
        break;
      case 'ui/notifications/tool-cancelled':
        this.events.toolCancelled(typeof p.reason === 'string' ? p.reason : '');
        break;
      case 'ui/notifications/host-context-changed':
        this.events.contextChanged(p as McpUiHostContext);
        break;
      // Partial tool input and anything newer are of no use to this view.
    }
  }

  // answer replies to a request from the host. A view that is torn down
  // keeps no state worth saving, and ping needs no work.
  private answer(id: unknown, method: string): void {
    if (method === 'ui/resource-teardown' || method === 'ping') {
      this.send({ jsonrpc: '2.0', id, result: {} });
    } else {
      this.send({ jsonrpc: '2.0', id, error: { code: METHOD_NOT_FOUND, message: `${method} is not supported by this view` } });
    }
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
