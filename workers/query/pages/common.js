// Shared by the pages' scripts (dashboard.js, ops.js): page.ts puts it in front of the page's own code in
// the one inline <script> the CSP allows by hash, so these names are in scope there.

/** The element with this id. */
const $ = (id) => document.getElementById(id);

/**
 * A new element with attributes and children. Children that are not nodes become text nodes, so API data
 * never becomes markup; null and undefined children are left out.
 */
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props)
    for (const k of Object.keys(props)) {
      if (k === "class") e.className = props[k];
      else if (k === "title") e.title = props[k];
      else e.setAttribute(k, props[k]);
    }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
