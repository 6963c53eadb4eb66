// Issue 19's check of one page at the window's current size: nothing overflows
// horizontally (the document is no wider than the window, and no rendered element is wider
// than the window or sticks out of it, whether or not a container would scroll or clip it),
// and the page's primary state and action (arguments[0], CSS selectors, the first match of
// each) are rendered within the first screen, without scrolling.
const wanted = arguments[0];
window.scrollTo(0, 0);
const width = window.innerWidth;
const height = window.innerHeight;
const describe = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (el.getAttribute('name')) s += '[name="' + el.getAttribute('name') + '"]';
  if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).join('.');
  return s;
};
const problems = [];
const scroll = document.documentElement.scrollWidth;
if (scroll > width) {
  problems.push('horizontal overflow: the document is ' + scroll + 'px wide in a ' + width + 'px window');
}
const rendered = (e) => {
  const r = e.getBoundingClientRect();
  const st = getComputedStyle(e);
  return r.width >= 1 && r.height >= 1 && st.visibility !== 'hidden' && st.display !== 'none';
};
const wide = [...document.body.querySelectorAll('*')]
  .filter((e) => rendered(e))
  .filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > width + 0.5 || r.right > width + 0.5 || r.left < -0.5;
  });
// Name the innermost culprits (an element whose children are all fine).
const innermost = wide.filter((e) => !wide.some((o) => o !== e && e.contains(o)));
for (const e of innermost.slice(0, 5)) {
  const r = e.getBoundingClientRect();
  problems.push(describe(e) + ' is wider than the ' + width + 'px window or sticks out of it (left ' +
    Math.round(r.left) + 'px, right ' + Math.round(r.right) + 'px, width ' + Math.round(r.width) + 'px)');
}
for (const sel of wanted) {
  const e = document.querySelector(sel);
  if (!e) {
    problems.push('`' + sel + '` is not on the page');
    continue;
  }
  if (!rendered(e)) {
    problems.push(describe(e) + ' (`' + sel + '`) is not rendered');
    continue;
  }
  const r = e.getBoundingClientRect();
  if (r.bottom > height + 0.5) {
    problems.push(describe(e) + ' (`' + sel + '`) is below the first screen: its bottom is at ' +
      Math.round(r.bottom) + 'px in a ' + height + 'px window');
  }
}
return {problems: problems, width: width, height: height};
