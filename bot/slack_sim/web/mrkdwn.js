// Slack mrkdwn to DOM nodes, for the sandbox page.
//
// Every piece of text ends up in a text node (textContent / createTextNode): nothing the bot or a user wrote is
// ever parsed as HTML. `&lt;`, `&gt;` and `&amp;` are decoded for display only, after the control sequences
// (`<@U…>`, `<url|text>`, …) have been recognised, exactly as Slack does.
"use strict";

const Mrkdwn = (() => {
  const EMOJI = {
    rotating_light: "🚨", white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", no_entry: "⛔",
    no_entry_sign: "🚫", warning: "⚠️", fire: "🔥", wave: "👋", eyes: "👀", pushpin: "📌", memo: "📝",
    arrows_counterclockwise: "🔄", hourglass: "⌛", hourglass_flowing_sand: "⏳", bell: "🔔", mega: "📣",
    loudspeaker: "📢", point_right: "👉", information_source: "ℹ️", large_green_circle: "🟢", red_circle: "🔴",
    large_orange_circle: "🟠", large_yellow_circle: "🟡", large_blue_circle: "🔵", white_circle: "⚪",
    black_circle: "⚫", bust_in_silhouette: "👤", busts_in_silhouette: "👥", clock1: "🕐", alarm_clock: "⏰",
    stopwatch: "⏱️", calendar: "📅", spiral_calendar_pad: "🗓️", link: "🔗", lock: "🔒", tada: "🎉",
    thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎", raised_hands: "🙌", pager: "📟", phone: "☎️",
    telephone_receiver: "📞", sos: "🆘", ambulance: "🚑", construction: "🚧", mag: "🔍", clipboard: "📋",
    page_facing_up: "📄", bookmark_tabs: "📑", chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉",
    arrow_up: "⬆️", arrow_down: "⬇️", arrow_right: "➡️", arrow_double_up: "⏫", arrow_double_down: "⏬", heavy_plus_sign: "➕", question: "❓",
    exclamation: "❗", bangbang: "‼️", speech_balloon: "💬", speaking_head_in_silhouette: "🗣️",
    checkered_flag: "🏁", crown: "👑", busstop: "🚏", traffic_light: "🚥", vertical_traffic_light: "🚦",
    zap: "⚡", boom: "💥", skull: "💀", robot_face: "🤖", gear: "⚙️", hammer_and_wrench: "🛠️", wrench: "🔧",
    ballot_box_with_check: "☑️", radio_button: "🔘", small_blue_diamond: "🔹", small_orange_diamond: "🔸",
    siren: "🚨", sparkles: "✨", pencil2: "✏️", lower_left_fountain_pen: "🖋️", file_folder: "📁",
    inbox_tray: "📥", outbox_tray: "📤", satellite_antenna: "📡", shield: "🛡️", stop_sign: "🛑",
    bulb: "💡", thinking_face: "🤔", white_circle_check: "✅", heavy_multiplication_x: "✖️", repeat: "🔁",
    arrow_forward: "▶️", fast_forward: "⏩", rewind: "⏪", double_vertical_bar: "⏸️", black_square_for_stop: "⏹️",
    green_heart: "💚", broken_heart: "💔", handshake: "🤝", pray: "🙏", muscle: "💪", rocket: "🚀",
    test_tube: "🧪", scroll: "📜", books: "📚", book: "📖", notebook: "📓", ledger: "📒", card_index: "📇",
    date: "📅", watch: "⌚", timer_clock: "⏲️", mailbox: "📫", envelope: "✉️", e_mail: "📧", package: "📦",
    label: "🏷️", bookmark: "🔖", key: "🔑", unlock: "🔓", new: "🆕", up: "🆙", ok: "🆗", cool: "🆒",
    white_flag: "🏳️", triangular_flag_on_post: "🚩", dart: "🎯", trophy: "🏆", medal: "🏅", star: "⭐",
    heavy_minus_sign: "➖", grey_question: "❔", grey_exclamation: "❕", ghost: "👻", see_no_evil: "🙈",
    smile: "😄", slightly_smiling_face: "🙂", neutral_face: "😐", disappointed: "😞", scream: "😱", sweat_smile: "😅",
  };
  const PH_OPEN = "\uE000";
  const PH_CLOSE = "\uE001";
  const PLACEHOLDER = /\uE000(\d+)\uE001/g;
  const SAFE_URL = /^(https?:|mailto:)/i;

  function unescape(s) {
    return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emojify(s) {
    return s.replace(/:([a-z0-9_+\-]+):/g, (m, name) => EMOJI[name] || m);
  }

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // <…> control sequences: mentions, channels, groups, special mentions, dates and links.
  function angle(body, ctx) {
    const bar = body.indexOf("|");
    const target = bar >= 0 ? body.slice(0, bar) : body;
    const label = bar >= 0 ? unescape(body.slice(bar + 1)) : null;
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const name = ctx.userName(id) || label || id;
      const n = node("span", "mention", "@" + name);
      n.dataset.user = id;
      return n;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = ctx.channelName(id) || label || id;
      const n = node("a", "channel-link", "#" + name);
      n.dataset.channel = id;
      n.href = "#";
      n.addEventListener("click", (e) => { e.preventDefault(); ctx.openChannel(id); });
      return n;
    }
    if (target.startsWith("!subteam^")) {
      const id = target.slice("!subteam^".length);
      return node("span", "mention", label || "@" + (ctx.groupName(id) || id));
    }
    if (target.startsWith("!date^")) {
      // <!date^epoch^format|fallback>: show the fallback, with the exact instant on hover.
      const epoch = Number(target.split("^")[1]);
      const n = node("span", "date", label || target);
      if (!Number.isNaN(epoch)) n.title = new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
      return n;
    }
    if (target.startsWith("!")) {
      const word = target.slice(1).split("^")[0];
      return node("span", "mention special", label || "@" + word);
    }
    const url = unescape(target);
    if (SAFE_URL.test(url)) {
      const a = node("a", "link", label || url);
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
    return document.createTextNode("<" + unescape(body) + ">");
  }

  // Plain text with placeholders → text nodes and the nodes the placeholders stand for.
  function emit(text, tokens, out) {
    let last = 0;
    text.replace(PLACEHOLDER, (m, i, offset) => {
      if (offset > last) out.push(document.createTextNode(emojify(unescape(text.slice(last, offset)))));
      out.push(tokens[Number(i)]);
      last = offset + m.length;
      return m;
    });
    if (last < text.length) out.push(document.createTextNode(emojify(unescape(text.slice(last)))));
  }

  // *bold*, _italic_, ~strike~: only at word boundaries, never across lines, nestable.
  const EMPHASIS = /(?<![\p{L}\p{N}*_~])([*_~])(?=[^\s*_~])([^\n]*?[^\s])\1(?![\p{L}\p{N}])/u;
  const TAGS = { "*": "b", _: "i", "~": "s" };

  function inline(text, tokens) {
    const out = [];
    let rest = text;
    for (;;) {
      const m = EMPHASIS.exec(rest);
      if (!m) break;
      emit(rest.slice(0, m.index), tokens, out);
      const wrap = node(TAGS[m[1]]);
      for (const child of inline(m[2], tokens)) wrap.appendChild(child);
      out.push(wrap);
      rest = rest.slice(m.index + m[0].length);
    }
    emit(rest, tokens, out);
    return out;
  }

  function paragraph(text, ctx) {
    const tokens = [];
    const hold = (n) => PH_OPEN + (tokens.push(n) - 1) + PH_CLOSE;
    let s = text.replace(/`([^`\n]+)`/g, (m, code) => hold(node("code", null, unescape(code))));
    s = s.replace(/<([^<>\n]+)>/g, (m, body) => hold(angle(body, ctx)));
    return inline(s, tokens);
  }

  // Lines starting with ">" (or its escaped form) are a quote, as in Slack.
  function prose(text, ctx, out) {
    const lines = text.split("\n");
    let buffer = [];
    let quote = [];
    let pendingBreak = false; // text already emitted: the next text chunk starts on a new line
    const flushText = () => {
      if (!buffer.length) return;
      if (pendingBreak) out.appendChild(document.createTextNode("\n"));
      for (const n of paragraph(buffer.join("\n"), ctx)) out.appendChild(n);
      buffer = [];
      pendingBreak = true;
    };
    const flushQuote = () => {
      if (!quote.length) return;
      const q = node("blockquote");
      for (const n of paragraph(quote.join("\n"), ctx)) q.appendChild(n);
      out.appendChild(q);
      quote = [];
      pendingBreak = false;
    };
    lines.forEach((line) => {
      const m = /^(?:&gt;|>)\s?(.*)$/.exec(line);
      if (m) {
        flushText();
        quote.push(m[1]);
      } else {
        flushQuote();
        buffer.push(line);
      }
    });
    flushText();
    flushQuote();
  }

  // The public function: a span holding the rendered text (CSS keeps line breaks).
  function render(text, ctx) {
    const out = node("span", "mrkdwn");
    const parts = String(text || "").split(/```([\s\S]*?)```/);
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        out.appendChild(node("pre", "code-block", unescape(part.replace(/^\n/, ""))));
      } else if (part) {
        prose(part, ctx, out);
      }
    });
    return out;
  }

  // plain_text objects: shown as written (no entity decoding), emoji codes turned into emoji unless emoji:false.
  function plain(obj) {
    if (!obj) return "";
    const text = String(obj.text || "");
    return obj.emoji === false ? text : emojify(text);
  }

  function textObject(obj, ctx) {
    if (!obj) return node("span");
    if (obj.type === "mrkdwn") return render(obj.text, ctx);
    return node("span", "plain", plain(obj));
  }

  return { render, plain, textObject, emojify, unescape };
})();
