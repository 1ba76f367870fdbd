// Light and dark: the app follows prefers-color-scheme; the header's toggle overrides it on
// this device (localStorage), and choosing what the system already says goes back to
// following the system. theme-boot.js applies a saved choice before the first paint.
const KEY = 'incidents.theme';
const dark = window.matchMedia('(prefers-color-scheme: dark)');
let choice = '';
try {
  const v = localStorage.getItem(KEY);
  if (v === 'light' || v === 'dark') choice = v;
} catch { /* storage disabled: follow the system */ }

const system = () => (dark.matches ? 'dark' : 'light');

/** currentTheme is the scheme in effect: 'light' or 'dark'. */
export function currentTheme() {
  return choice || system();
}

function apply(button) {
  if (choice) document.documentElement.dataset.theme = choice;
  else delete document.documentElement.dataset.theme;
  button.setAttribute('aria-pressed', String(currentTheme() === 'dark'));
  button.title = choice ? `Chosen on this device; the system setting is ${system()}` : 'Following the system setting';
}

/** setupThemeToggle wires the header's "Dark mode" toggle button. */
export function setupThemeToggle(button) {
  if (!button) return;
  button.hidden = false;
  button.addEventListener('click', () => {
    const want = currentTheme() === 'dark' ? 'light' : 'dark';
    choice = want === system() ? '' : want;
    try {
      if (choice) localStorage.setItem(KEY, choice); else localStorage.removeItem(KEY);
    } catch { /* storage disabled: this page only */ }
    apply(button);
  });
  dark.addEventListener('change', () => apply(button));
  apply(button);
}
