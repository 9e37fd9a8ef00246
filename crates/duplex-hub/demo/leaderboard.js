// The leaderboard page: join with a name, score points, watch every open
// page re-rank live. The board lives on the server: the page fetches it on
// load and after every (re)subscription, and applies the `board` events
// published on presence-leaderboard in between, by version.
'use strict';

(() => {
  const { $, el, randomId, getJSON, postJSON, savedName, saveName, connect } = window.Demo;
  const CHANNEL = 'presence-leaderboard';

  const userId = randomId();
  let me = savedName();
  /** The board on screen: its epoch (one per server run) and version; older copies are dropped. */
  let epoch = '';
  let version = -1;
  /** Rows on screen by player name, reused so they can move smoothly. */
  const rows = new Map();

  function showError(message) {
    $('#error').textContent = message || '';
  }

  function row(name) {
    const li = el('li');
    li.dataset.name = name;
    li.append(el('span', 'rank'), el('span', 'name', name), el('span', 'score'));
    li.addEventListener('animationend', () => li.classList.remove('up', 'scored'));
    return li;
  }

  function flash(li, kind) {
    li.classList.remove('up', 'scored');
    void li.offsetWidth; // restart the animation
    li.classList.add(kind);
  }

  /** Shows a board snapshot `{epoch, version, players, top, me?}` unless it is older than the one shown. */
  function render(board) {
    if (board && board.epoch !== epoch) {
      epoch = board.epoch; // the server restarted: a new board, versions start over
      version = -1;
    }
    if (!board || !Array.isArray(board.top) || board.version <= version) {
      if (board && board.me !== undefined) showMe(board.me);
      return;
    }
    version = board.version;
    const list = $('#board');
    // FLIP: remember where every row was, rebuild, then animate from there.
    const before = new Map();
    for (const [name, li] of rows) {
      before.set(name, { top: li.getBoundingClientRect().top, rank: Number(li.dataset.rank), score: Number(li.dataset.score) });
    }
    const next = board.top.map((player) => {
      const li = rows.get(player.name) || row(player.name);
      rows.set(player.name, li);
      li.dataset.rank = player.rank;
      li.dataset.score = player.score;
      li.querySelector('.rank').textContent = player.rank;
      li.querySelector('.score').textContent = player.score;
      li.classList.toggle('me', player.name === me);
      return li;
    });
    const shown = new Set(board.top.map((p) => p.name));
    for (const name of rows.keys()) if (!shown.has(name)) rows.delete(name);
    list.replaceChildren(...next);
    for (const li of next) {
      const old = before.get(li.dataset.name);
      if (!old) {
        li.animate([{ opacity: 0, transform: 'translateX(-12px)' }, { opacity: 1, transform: 'none' }], { duration: 350, easing: 'ease-out' });
        continue;
      }
      const dy = old.top - li.getBoundingClientRect().top;
      if (dy) li.animate([{ transform: `translateY(${dy}px)` }, { transform: 'none' }], { duration: 500, easing: 'cubic-bezier(.2,.8,.2,1)' });
      // Highlight who moved up or scored; those pushed down just slide.
      if (Number(li.dataset.rank) < old.rank) flash(li, 'up');
      else if (Number(li.dataset.score) !== old.score) flash(li, 'scored');
    }
    $('#board-empty').hidden = next.length > 0;
    $('#players').textContent = board.players > next.length ? `of ${board.players} players` : '';
    if (board.me !== undefined) showMe(board.me);
    else {
      const mine = board.top.find((p) => p.name === me);
      if (mine) showMe(mine);
    }
  }

  /** Shows the player's own score and rank (`null`: not on the board yet). */
  function showMe(player) {
    $('#me-score').textContent = player ? player.score : 0;
    $('#me-rank').textContent = player && player.rank ? player.rank : '–';
  }

  function boardUrl() {
    return '/demo/leaderboard/board' + (me ? '?name=' + encodeURIComponent(me) : '');
  }

  async function refresh() {
    try {
      render(await getJSON(boardUrl()));
    } catch (error) {
      showError(`Could not load the board: ${error.message}`);
    }
  }

  function showPlayer() {
    $('#join').hidden = Boolean(me);
    $('#play').hidden = !me;
    $('#me-name').textContent = me;
    for (const li of rows.values()) li.classList.toggle('me', li.dataset.name === me);
  }

  $('#join').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('#name').value.trim();
    if (!name) return;
    me = name;
    saveName(me);
    showError('');
    showPlayer();
    refresh();
  });

  $('#rename').addEventListener('click', () => {
    $('#name').value = me;
    me = '';
    saveName('');
    showPlayer();
    $('#name').focus();
  });

  for (const button of document.querySelectorAll('[data-points]')) {
    button.addEventListener('click', async () => {
      try {
        const board = await postJSON('/demo/leaderboard/score', { name: me, points: Number(button.dataset.points) });
        showError('');
        render(board);
        if (board.change) showMe({ score: board.change.score, rank: board.change.rank });
      } catch (error) {
        showError(error.message);
      }
    });
  }

  showPlayer();
  refresh(); // a newcomer sees the board at once, before the socket is up

  const pusher = connect({ userId, name: () => me || 'guest' });
  const channel = pusher.subscribe(CHANNEL);
  const showViewers = () => { $('#viewer-count').textContent = channel.members.count; };
  // pusher-js resubscribes after every reconnection. Fetching the board once
  // subscribed leaves no gap: what happened before is in the board, what
  // happens after arrives as events (and versions drop whichever is older).
  channel.bind('pusher:subscription_succeeded', () => {
    showViewers();
    refresh();
  });
  channel.bind('pusher:member_added', showViewers);
  channel.bind('pusher:member_removed', showViewers);
  channel.bind('pusher:subscription_error', (error) => showError(`Could not watch the board: ${error.error || error.status}`));
  channel.bind('board', render);
})();
