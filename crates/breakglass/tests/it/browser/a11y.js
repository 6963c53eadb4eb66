// Accessibility basics of the page shown, run through WebDriver's Execute Script (not
// subject to the page's CSP). Returns a list of problems, each naming the element.
const describe = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (el.getAttribute('name')) s += '[name="' + el.getAttribute('name') + '"]';
  const form = el.closest('form');
  if (form && form !== el) s += ' in form' + (form.id ? '#' + form.id : '') + '[action="' + (form.getAttribute('action') || '') + '"]';
  return s;
};
const text = (el) => (el ? (el.textContent || '').trim() : '');
const aria = (el, attr) => (el.getAttribute(attr) || '').trim();
const problems = [];

for (const c of document.querySelectorAll('input, select, textarea')) {
  const type = (c.getAttribute('type') || '').toLowerCase();
  if (type === 'hidden') continue;
  if (['submit', 'button', 'reset'].includes(type)) {
    if (!(c.value || '').trim() && !aria(c, 'aria-label')) problems.push(describe(c) + ' is a button without a name');
    continue;
  }
  if (type === 'image') {
    if (!aria(c, 'alt') && !aria(c, 'aria-label')) problems.push(describe(c) + ' is an image button without alt text');
    continue;
  }
  let named = false;
  if (c.id) {
    for (const l of document.querySelectorAll('label[for]')) {
      if (l.htmlFor === c.id && text(l)) named = true;
    }
  }
  if (text(c.closest('label'))) named = true;
  if (aria(c, 'aria-label')) named = true;
  const by = aria(c, 'aria-labelledby');
  if (by && by.split(/\s+/).every((id) => text(document.getElementById(id)))) named = true;
  if (!named) problems.push(describe(c) + ' has no label (label[for], a wrapping label or aria-label)');
}

for (const b of document.querySelectorAll('button, [role=button]')) {
  if (!text(b) && !aria(b, 'aria-label') && !aria(b, 'title')) problems.push(describe(b) + ' is a button without a name');
}
for (const img of document.querySelectorAll('img')) {
  if (!img.hasAttribute('alt')) problems.push(describe(img) + ' has no alt attribute');
}

const h1 = [...document.querySelectorAll('h1')];
if (h1.length !== 1) {
  problems.push(h1.length + ' <h1> elements (want exactly one)' + (h1.length ? ': ' + h1.map(text).join(' | ') : ''));
} else if (!text(h1[0])) {
  problems.push('the <h1> is empty');
}
if (!document.querySelector('main')) problems.push('no <main> element');
if (!document.querySelector('nav a[href]')) problems.push('no <nav> with links');
if (!document.querySelector('meta[name=viewport]')) problems.push('no <meta name="viewport">');
if (!document.title.trim()) problems.push('no <title>');
return problems;
