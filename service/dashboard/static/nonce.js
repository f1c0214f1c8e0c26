// xterm.js creates <style> elements of its own, and the page's Content-Security-Policy admits
// only those that carry this response's nonce: stamp it on every <style> when it is created
// (a nonce set after insertion does not count).
const meta = document.querySelector('meta[name="vm-api-style-nonce"]');
const nonce = meta ? meta.content : "";
const createElement = Document.prototype.createElement;

Document.prototype.createElement = function (tagName, options) {
  const element = createElement.call(this, tagName, options);
  if (nonce && String(tagName).toLowerCase() === "style") element.setAttribute("nonce", nonce);
  return element;
};
