// The console's only script besides the map picker: htmx requests carry the CSRF token.
document.body.addEventListener('htmx:configRequest', (event) => {
  const token = document.querySelector('meta[name=csrf-token]');
  if (token) event.detail.headers['X-CSRFToken'] = token.content;
});

