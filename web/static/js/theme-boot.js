// Runs before the page paints (a classic script in <head>): applies the colour scheme the
// person chose on this device, so a dark choice never flashes light. theme.js does the rest.
(function () {
  try {
    var v = localStorage.getItem('incidents.theme');
    if (v === 'light' || v === 'dark') document.documentElement.dataset.theme = v;
  } catch (e) { /* storage disabled: follow the system */ }
}());
