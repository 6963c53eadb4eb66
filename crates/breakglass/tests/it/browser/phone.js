// Usability at a phone's width, run after the window was resized to 375x812: no horizontal
// scroll, and every element matching a main action's CSS selector (arguments[0]) rendered
// inside the screen, not cut off by a sideways-scrolling container.
const actions = arguments[0];
const describe = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (el.getAttribute('name')) s += '[name="' + el.getAttribute('name') + '"]';
  if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).join('.');
  return s;
};
const problems = [];
const width = window.innerWidth;
if (width > 420) problems.push('the window did not shrink to a phone: innerWidth is ' + width);
const scroll = document.documentElement.scrollWidth;
if (scroll > width) {
  // What widens the document: elements past the right edge that no sideways-scrolling
  // ancestor contains (an absolutely positioned one escapes such an ancestor unless the
  // ancestor is positioned itself, so those are always suspects).
  const contained = (e) => {
    const escapes = ['absolute', 'fixed'].includes(getComputedStyle(e).position);
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const st = getComputedStyle(a);
      if (escapes && st.position === 'static') continue;
      if (st.overflowX !== 'visible') return true;
    }
    return false;
  };
  const sticking = (e) => e.getBoundingClientRect().right > width + 0.5 && !contained(e);
  const culprits = [...document.body.querySelectorAll('*')]
    .filter((e) => sticking(e) && ![...e.children].some(sticking))
    .slice(0, 5)
    .map((e) => describe(e) + ' (right edge ' + Math.round(e.getBoundingClientRect().right) + 'px)');
  problems.push('horizontal scroll: the document is ' + scroll + 'px wide in a ' + width + 'px window; too wide: ' + culprits.join(', '));
}
// Why an element is not visible on the phone's screen, or null when it is.
const hidden = (e) => {
  const r = e.getBoundingClientRect();
  const st = getComputedStyle(e);
  if (r.width < 1 || r.height < 1 || st.visibility === 'hidden' || st.display === 'none') return 'is not rendered';
  if (r.left < -0.5 || r.right > width + 0.5) {
    return 'sticks out of the screen (left ' + Math.round(r.left) + 'px, right ' + Math.round(r.right) + 'px)';
  }
  // Inside the screen, but maybe scrolled out of sight in a container that scrolls sideways
  // (a wide table): then it cannot be seen without scrolling the container.
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const ox = getComputedStyle(a).overflowX;
    if (ox === 'visible') continue;
    const box = a.getBoundingClientRect();
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
      return 'is cut off by ' + describe(a) + ' (overflow-x: ' + ox + '; it needs sideways scrolling to be seen)';
    }
  }
  return null;
};
// Every element matching an action's selector must itself be visible: a hidden duplicate
// of a visible one fails too (the selectors name the actions themselves).
for (const sel of actions) {
  const found = [...document.querySelectorAll(sel)];
  if (!found.length) {
    problems.push('main action `' + sel + '` is not on the page');
    continue;
  }
  for (const e of found) {
    const why = hidden(e);
    if (why !== null) problems.push('main action ' + describe(e) + ' (`' + sel + '`) ' + why);
  }
}
return {problems: problems};
