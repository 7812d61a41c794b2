// The harness page's script: the host side of the MCP Apps extension, built
// on @modelcontextprotocol/ext-apps' AppBridge, the reference host
// implementation. It runs in the browser; the test bundles it with esbuild
// and drives it through window.harness.
//
// The MCP client lives in the test process, not here: the bridge is created
// without a client, and the requests a host forwards to the server (tools/call)
// go to the test through functions it exposes on this page
// (window.harnessCallTool and friends), which call the server with the
// official TypeScript SDK client. That is the bridge's documented way for a
// host whose MCP connection is elsewhere.

import { AppBridge, PostMessageTransport } from '@modelcontextprotocol/ext-apps/app-bridge';

const HOST_INFO = { name: 'plannr-mcp-apps-harness', version: '1.0.0' };

// What this host offers the view: calling the server's tools and opening
// links. It offers no resource reads, prompts, logging or sampling.
const HOST_CAPABILITIES = { serverTools: {}, openLinks: {} };

let bridge;
let iframe;

window.harness = {
  // mount shows the view at src in a sandboxed frame and waits for its
  // handshake. The frame gets allow-scripts only: without allow-same-origin
  // its document has an opaque origin, so it can reach neither this page nor
  // anything stored for this origin, and it talks to the host by postMessage
  // alone.
  async mount({ src, width, prefersBorder, hostContext }) {
    iframe = document.createElement('iframe');
    iframe.setAttribute('sandbox', 'allow-scripts');
    iframe.title = 'Connection health dashboard';
    iframe.style.width = `${width}px`;
    if (prefersBorder) iframe.classList.add('border');
    iframe.src = src;
    document.getElementById('frame').replaceChildren(iframe);
    document.body.classList.toggle('dark', hostContext.theme === 'dark');

    bridge = new AppBridge(null, HOST_INFO, HOST_CAPABILITIES, { hostContext });
    bridge.oncalltool = (params) => window.harnessCallTool(params);
    bridge.onopenlink = async ({ url }) => {
      await window.harnessOpenLink(url);
      return {};
    };
    bridge.onsizechange = ({ width: w, height: h }) => {
      // The view sizes itself in height; this host keeps the width it chose.
      if (typeof h === 'number') iframe.style.height = `${h}px`;
      window.harnessSizeChanged({ width: w, height: h });
    };
    const initialized = new Promise((resolve) => {
      bridge.oninitialized = resolve;
    });
    await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
    await initialized;
    return { appVersion: bridge.getAppVersion(), appCapabilities: bridge.getAppCapabilities() };
  },

  // deliver sends the view a tool call's arguments and result, as a host does
  // when the model has called the tool.
  async deliver(args, result) {
    await bridge.sendToolInput({ arguments: args });
    await bridge.sendToolResult(result);
  },

  setHostContext(hostContext) {
    document.body.classList.toggle('dark', hostContext.theme === 'dark');
    bridge.setHostContext(hostContext);
  },

  setWidth(width) {
    iframe.style.width = `${width}px`;
  },
};
