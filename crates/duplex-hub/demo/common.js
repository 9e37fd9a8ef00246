// Shared by the demo pages: one pusher-js client configured for the server
// that served the page, its auth handlers, a connection-status pill, and
// reconnection after the server closed the socket.
//
// User data only ever reaches the page through textContent and dataset:
// never through innerHTML.
'use strict';

(() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? '';

  /** The first element matching `selector`. */
  const $ = (selector, root = document) => root.querySelector(selector);

  /** A new element with a class and text (text is set as text, never as HTML). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** A random id for this page load: the presence user id and sign-in id. */
  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return 'demo-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function request(url, options) {
    const response = await fetch(url, { cache: 'no-store', ...options });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  const getJSON = (url) => request(url);
  const postJSON = (url, data) =>
    request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data) });

  const NAME_KEY = 'duplex-demo-name';
  const savedName = () => {
    try { return localStorage.getItem(NAME_KEY) || ''; } catch { return ''; }
  };
  const saveName = (name) => {
    try { name ? localStorage.setItem(NAME_KEY, name) : localStorage.removeItem(NAME_KEY); } catch { /* private mode */ }
  };

  const STATUS = {
    initialized: 'starting…',
    connecting: 'connecting…',
    connected: 'live',
    unavailable: 'offline, retrying…',
    disconnected: 'reconnecting…',
    failed: 'WebSockets unavailable',
  };

  /**
   * Connects to this server with pusher-js. `name()` gives the user's name
   * for presence `user_info`; `onConnected()`, if given, runs on every
   * (re)connection. pusher-js resubscribes to every channel after a
   * reconnection: pages catch up on `pusher:subscription_succeeded`.
   */
  function connect({ userId, name, onConnected }) {
    const port = Number(location.port) || (location.protocol === 'https:' ? 443 : 80);
    const pusher = new Pusher(meta('duplex-app-key'), {
      wsHost: location.hostname,
      wsPort: port,
      wssPort: port,
      forceTLS: false,
      enabledTransports: ['ws', 'wss'],
      cluster: 'mt1',
      disableStats: true,
      // The server signs with the app secret, which never reaches the page.
      channelAuthorization: {
        customHandler: ({ socketId, channelName }, callback) => {
          postJSON('/demo/auth', { socket_id: socketId, channel_name: channelName, user_id: userId, name: name() })
            .then((auth) => callback(null, auth), (error) => callback(error, null));
        },
      },
      userAuthentication: {
        customHandler: ({ socketId }, callback) => {
          postJSON('/demo/user-auth', { socket_id: socketId, user_id: userId, name: name() })
            .then((auth) => callback(null, auth), (error) => callback(error, null));
        },
      },
    });

    // Reconnection, with exponential backoff and jitter:
    // - pusher-js retries by itself after most closes, but not after a
    //   "refused" one (close codes 4000-4099, e.g. 4009 from the HTTP API's
    //   terminate_connections): it stays disconnected. We reconnect.
    // - After a refused TCP connection (server restarting) pusher-js waits
    //   for its 15 s strategy timeout before trying again. A connection
    //   attempt that has not succeeded within a few seconds is restarted.
    let attempt = 0;
    let retry = 0;
    let watchdog = 0;
    let leaving = false;
    const backoff = (base) => Math.min(10000, base * 2 ** attempt) * (0.8 + Math.random() * 0.4);
    pusher.connection.bind('state_change', ({ current }) => {
      document.body.dataset.state = current;
      $('#status').textContent = STATUS[current] || current;
      clearTimeout(retry);
      clearTimeout(watchdog);
      if (leaving) return;
      if (current === 'connected') {
        attempt = 0;
        document.body.dataset.socketId = pusher.connection.socket_id;
        if (onConnected) onConnected();
      } else if (current === 'disconnected') {
        const delay = backoff(1000);
        attempt += 1;
        retry = setTimeout(() => pusher.connect(), delay);
      } else if (current === 'connecting' || current === 'unavailable') {
        watchdog = setTimeout(() => pusher.disconnect(), 3000 + backoff(1000));
      }
    });
    // Leave presence channels at once when the page goes away.
    addEventListener('pagehide', () => {
      leaving = true;
      pusher.disconnect();
    });
    addEventListener('pageshow', (event) => {
      if (!event.persisted) return; // back from the back-forward cache
      leaving = false;
      pusher.connect();
    });
    // Sign in as this page's user, so the HTTP API can address it
    // (pusher-js signs in again after every reconnection).
    pusher.signin();
    document.body.dataset.userId = userId;
    window.demo = { pusher, userId };
    return pusher;
  }

  window.Demo = {
    $, el, randomId, getJSON, postJSON, savedName, saveName, connect,
    clientEvents: meta('duplex-client-events') === 'true',
  };
})();
