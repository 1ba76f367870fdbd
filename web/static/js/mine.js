// "My tickets": the IDs this browser filed, kept in localStorage (no account needed).
const KEY = 'incidents.mine';
const MAX = 200;

export function myTickets() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(v) ? v.filter((t) => t && typeof t.id === 'string') : [];
  } catch {
    return [];
  }
}

function save(list) {
  try { localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX))); } catch { /* storage full or disabled */ }
}

/** remember records a filed ticket (newest first, no duplicates when a retry returns the same one). */
export function remember(t) {
  const list = myTickets().filter((x) => x.id !== t.id);
  list.unshift({ id: t.id, title: t.title, severity: t.severity, createdAt: t.createdAt });
  save(list);
}

export function forget(id) {
  save(myTickets().filter((x) => x.id !== id));
}

const PROFILE = 'incidents.reporter';
/** The reporter's name and email are offered again next time, so people do not retype them. */
export function savedReporter() {
  try { return JSON.parse(localStorage.getItem(PROFILE) || '{}') || {}; } catch { return {}; }
}
export function saveReporter(r) {
  try { localStorage.setItem(PROFILE, JSON.stringify({ name: r.name, email: r.email })); } catch { /* ignore */ }
}
