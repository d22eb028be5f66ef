// Which display this is, for what is saved per display (the video wall's layout). An Electron window
// or a wall controller's browser can name itself with ?display=; otherwise the browser keeps a
// generated name, so the same screen finds its layout again after a reload.
export function displayKey(): string {
  const given = new URLSearchParams(location.search).get('display');
  if (given && /^[\w.:-]{1,128}$/.test(given)) return given;
  let k = localStorage.getItem('beacon.display');
  if (!k) {
    k = `display-${Math.random().toString(36).slice(2, 10)}`;
    localStorage.setItem('beacon.display', k);
  }
  return k;
}
