// The chat page: rooms are presence channels (presence-chat-{room}), which
// give the list of who is online and the join/leave notices. Messages go
// through the server (POST /demo/chat/message), which keeps the last 50 per
// room for newcomers; "is typing" goes peer to peer as a client event
// (`client-typing`, `{typing: false}` when the message is sent).
'use strict';

(() => {
  const { $, el, randomId, getJSON, postJSON, savedName, saveName, connect, clientEvents } = window.Demo;
  const ROOMS = ['lobby', 'rust', 'random'];
  const ROOM_NAME = /^[a-z0-9-]{1,24}$/;
  const TYPING_EVERY_MS = 1500; // how often we tell others we are typing
  const TYPING_SHOWN_MS = 3000; // how long we show that someone is

  const userId = randomId();
  let me = savedName();
  let room = '';
  let channel = null;
  /** Message ids on screen, so history and live messages merge without duplicates. */
  const seen = new Set();
  /** user_id -> {name, timer} of members typing now. */
  const typing = new Map();
  let lastTypingSent = 0;

  const roomFromHash = () => {
    const name = decodeURIComponent(location.hash.slice(1)).toLowerCase();
    return ROOM_NAME.test(name) ? name : 'lobby';
  };

  function showError(message) {
    $('#error').textContent = message || '';
  }

  function scrollToEnd() {
    const log = $('#log');
    log.scrollTop = log.scrollHeight;
  }

  function notice(text) {
    const li = el('li', 'notice');
    li.append(el('span', '', text));
    $('#log').append(li);
    scrollToEnd();
  }

  /** Adds a message `{id, user_id, name, text, at}` in id order, once. */
  function addMessage(message) {
    if (!message || seen.has(message.id)) return;
    seen.add(message.id);
    const li = el('li', message.user_id === userId ? 'msg mine' : 'msg');
    li.dataset.id = message.id;
    const meta = el('div', 'meta');
    const time = el('time', '', new Date(message.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    time.dateTime = new Date(message.at).toISOString();
    meta.append(el('span', 'who', message.name), time);
    li.append(meta, el('div', 'text', message.text));
    const later = [...$('#log').querySelectorAll('.msg')].find((other) => Number(other.dataset.id) > message.id);
    $('#log').insertBefore(li, later || null);
    stopTyping(message.user_id);
    scrollToEnd();
  }

  async function loadHistory() {
    const wanted = room;
    try {
      const history = await getJSON('/demo/chat/history?room=' + encodeURIComponent(wanted));
      if (wanted === room) history.messages.forEach(addMessage);
    } catch (error) {
      showError(`Could not load the history: ${error.message}`);
    }
  }

  const memberName = (id, fallback) => channel?.members.get(id)?.info?.name ?? fallback ?? 'someone';

  function renderMembers() {
    const list = $('#members');
    const members = [];
    channel.members.each((member) => members.push(member));
    members.sort((a, b) => String(a.info?.name).localeCompare(String(b.info?.name)));
    list.replaceChildren(...members.map((member) => {
      const li = el('li');
      li.dataset.userId = member.id;
      li.append(el('span', 'name', member.info?.name ?? member.id));
      if (member.id === userId) li.append(el('span', 'you', '(you)'));
      return li;
    }));
    $('#online-count').textContent = channel.members.count;
  }

  function renderTyping() {
    const names = [...typing.values()].map((t) => t.name);
    $('#typing').textContent =
      names.length === 0 ? '' :
      names.length === 1 ? `${names[0]} is typing…` :
      names.length === 2 ? `${names[0]} and ${names[1]} are typing…` :
      `${names.length} people are typing…`;
  }

  function startTyping(id, name) {
    clearTimeout(typing.get(id)?.timer);
    typing.set(id, { name, timer: setTimeout(() => stopTyping(id), TYPING_SHOWN_MS) });
    renderTyping();
  }

  function stopTyping(id) {
    if (!typing.has(id)) return;
    clearTimeout(typing.get(id).timer);
    typing.delete(id);
    renderTyping();
  }

  function renderRooms() {
    const list = [...new Set([...ROOMS, room])];
    $('#rooms').replaceChildren(...list.map((name) => {
      const li = el('li');
      const a = el('a', '', name);
      a.href = '#' + name;
      if (name === room) a.setAttribute('aria-current', 'true');
      li.append(a);
      return li;
    }));
    $('#room-title').textContent = `# ${room}`;
    $('#text').placeholder = `Message #${room}`;
  }

  function enterRoom(pusher, name) {
    if (name === room && channel) return;
    if (channel) pusher.unsubscribe(channel.name);
    room = name;
    seen.clear();
    for (const id of [...typing.keys()]) stopTyping(id);
    $('#log').replaceChildren();
    $('#members').replaceChildren();
    $('#online-count').textContent = '0';
    $('#send-button').disabled = true;
    renderRooms();
    channel = pusher.subscribe('presence-chat-' + room);
    // After every (re)subscription: the member list, and the messages
    // missed while away (fetched once subscribed, so none falls in between).
    channel.bind('pusher:subscription_succeeded', () => {
      renderMembers();
      $('#send-button').disabled = false;
      loadHistory();
    });
    channel.bind('pusher:subscription_error', (error) => showError(`Could not join #${room}: ${error.error || error.status}`));
    channel.bind('pusher:member_added', (member) => {
      renderMembers();
      notice(`${member.info?.name ?? member.id} joined`);
    });
    channel.bind('pusher:member_removed', (member) => {
      renderMembers();
      stopTyping(member.id);
      notice(`${member.info?.name ?? member.id} left`);
    });
    channel.bind('message', addMessage);
    channel.bind('client-typing', (data, metadata) => {
      const id = metadata?.user_id;
      if (!id || id === userId) return;
      if (data?.typing === false) stopTyping(id);
      else startTyping(id, memberName(id, data?.name));
    });
    notice(`You joined #${room}`);
    loadHistory(); // at once, without waiting for the socket
  }

  function start() {
    $('#join-card').hidden = true;
    $('#chat').hidden = false;
    const pusher = connect({ userId, name: () => me });
    pusher.connection.bind('disconnected', () => { $('#send-button').disabled = true; });
    enterRoom(pusher, roomFromHash());
    addEventListener('hashchange', () => enterRoom(pusher, roomFromHash()));

    $('#room-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const name = $('#room-name').value.trim().toLowerCase();
      if (!ROOM_NAME.test(name)) {
        showError('A room name has 1 to 24 of a-z, 0-9 and -');
        return;
      }
      showError('');
      $('#room-name').value = '';
      location.hash = name;
    });

    $('#text').addEventListener('input', () => {
      const now = Date.now();
      if (!clientEvents || !channel?.subscribed || now - lastTypingSent < TYPING_EVERY_MS) return;
      lastTypingSent = now;
      channel.trigger('client-typing', { name: me });
    });

    $('#send').addEventListener('submit', async (event) => {
      event.preventDefault();
      const input = $('#text');
      const text = input.value.trim();
      if (!text || !channel?.subscribed) return;
      // "Stopped typing" travels on the socket, after "typing" and in order
      // with it; the message itself goes over HTTP and may overtake both.
      if (clientEvents && Date.now() - lastTypingSent < TYPING_SHOWN_MS) {
        channel.trigger('client-typing', { name: me, typing: false });
      }
      lastTypingSent = 0;
      try {
        const message = await postJSON('/demo/chat/message', {
          room, socket_id: pusher.connection.socket_id, name: me, text,
        });
        addMessage(message);
        input.value = '';
        showError('');
      } catch (error) {
        showError(`Not sent: ${error.message}`);
      }
    });
  }

  $('#join').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('#name').value.trim();
    if (!name) return;
    me = name;
    saveName(me);
    start();
  });

  if (me) start();
  else {
    $('#join-card').hidden = false;
    $('#name').focus();
  }
})();
