// The page runs under `style-src 'self' 'nonce-…'` (src/console.rs): style
// elements need the nonce the hub gave this answer. Ant Design's own style
// elements get it from ConfigProvider; a few helpers of its components (the
// scrollbar measure, the modal's scroll lock) create theirs without one. Every
// style element this bundle's scripts insert is given the nonce here; style
// markup injected any other way (parsed HTML) still has none and is refused.

/** The nonce the hub's Content-Security-Policy allows for style elements (none under `vite dev`). */
export const cspNonce: string | undefined = (() => {
  const v = document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content');
  return v && v !== 'MANDATE_CSP_NONCE' ? v : undefined;
})();

if (cspNonce) {
  const nonce = cspNonce;
  const mark = <T extends Node>(node: T): T => {
    if (node instanceof HTMLStyleElement && !node.nonce) node.nonce = nonce;
    return node;
  };
  const { appendChild, insertBefore } = Node.prototype;
  Node.prototype.appendChild = function <T extends Node>(this: Node, node: T): T {
    return appendChild.call(this, mark(node)) as T;
  };
  Node.prototype.insertBefore = function <T extends Node>(this: Node, node: T, child: Node | null): T {
    return insertBefore.call(this, mark(node), child) as T;
  };
}
