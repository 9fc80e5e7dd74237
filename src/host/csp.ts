/**
 * The renderer's Content-Security-Policy, one string for both hosts: the web
 * server sends it as a header (server/static-files.ts) and the desktop app's
 * twinlens:// protocol handler (main/protocol.ts) does the same, so the page
 * runs under the same rules whichever host serves it: scripts and styles
 * only from this origin, images from blob:/data: (the user's image,
 * canvases), the WebSocket back to this origin.
 */
export const RENDERER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
