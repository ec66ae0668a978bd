/*
 * Referral promo-code widget. Plain modern JavaScript, no build step.
 *
 * Mounts into every <div data-promo-codes> of the page. The participant token comes from the
 * element's data-token attribute or, on the widget page, from the URL fragment (#token=…),
 * which browsers never send to a server. The widget API lives on the origin this script was
 * loaded from (override with data-api-base on the element). With data-program="<slug>" (the
 * widget page sets it) a token of another program is refused before any call.
 *
 * Language: the API answers in the advocate's language (their locale, else data-lang or the
 * page's ?lang=, else the browser's, else the program's default) and names it; the script then
 * loads its texts for it from /widget/i18n/<language>.json (a Django JSON catalogue) and formats
 * money, numbers and dates with the browser's Intl for that language.
 */
(() => {
  "use strict";

  const script =
    document.currentScript ||
    Array.from(document.querySelectorAll("script[src]")).find((s) =>
      /promo-codes\.js(\?|#|$)/.test(s.src),
    );
  const DEFAULT_API_BASE = new URL("/api/v1/widget/", script ? script.src : location.href).href;

  // Embedded on another site: bring the stylesheet that sits beside this script.
  if (script && !document.querySelector('link[href*="promo-codes.css"]')) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = new URL("promo-codes.css", script.src).href;
    document.head.append(css);
  }

  // The texts of the language in use: {msgid: translation or [plural forms]}; English (the
  // msgids themselves) until a catalogue is loaded.
  let catalog = {};
  let language = "en";

  function gettext(msgid) {
    const value = catalog[msgid];
    if (typeof value === "string" && value) return value;
    if (Array.isArray(value) && value[0]) return value[0];
    return msgid;
  }

  function ngettext(singular, plural, count) {
    const value = catalog[singular];
    if (Array.isArray(value) && value.length) {
      // One form (Chinese) or two (one, other); a language with more brings its rule then.
      return value.length === 1 ? value[0] : value[count === 1 ? 0 : 1] || value[0];
    }
    return count === 1 ? singular : plural;
  }

  function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, (match, name) =>
      name in values ? String(values[name]) : match,
    );
  }

  function number(n) {
    try {
      return new Intl.NumberFormat(language).format(n);
    } catch {
      return String(n);
    }
  }

  function money(amount, currency) {
    try {
      return new Intl.NumberFormat(language, { style: "currency", currency }).format(
        Number(amount),
      );
    } catch {
      return `${amount} ${currency}`;
    }
  }

  function date(iso) {
    try {
      return new Intl.DateTimeFormat(language, { dateStyle: "medium" }).format(new Date(iso));
    } catch {
      return iso;
    }
  }

  function validUntil(iso) {
    return interpolate(gettext("Valid until %(date)s"), { date: date(iso) });
  }

  async function loadCatalog(apiBase, wanted) {
    const tag = (wanted || "en").toLowerCase();
    if (tag === "en" || tag.startsWith("en-")) {
      catalog = {};
      language = "en";
      return;
    }
    try {
      const response = await fetch(new URL(`/widget/i18n/${encodeURIComponent(tag)}.json`, apiBase), {
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
      if (!response.ok) return;
      const body = await response.json();
      catalog = body.catalog || {};
      language = response.headers.get("Content-Language") || tag;
    } catch {
      // English it is.
    }
  }

  const ERROR_TEXT = {
    token_expired: () =>
      gettext("This link has expired. Please open the page again from your account."),
    bad_signature: () =>
      gettext("This link is not valid. Please open the page again from your account."),
    unknown_program: () => gettext("This link is not valid for any program."),
    malformed_token: () =>
      gettext("This link is not valid. Please open the page again from your account."),
    bad_algorithm: () =>
      gettext("This link is not valid. Please open the page again from your account."),
    missing_claim: () =>
      gettext("This link is incomplete. Please open the page again from your account."),
    not_authenticated: () =>
      gettext("This page needs a personal link. Please open it from your account."),
    throttled: () => gettext("Too many requests just now. Please wait a minute and try again."),
    permission_denied: () => gettext("This site may not show the referral widget."),
    wrong_program: () =>
      gettext("This link is for another program. Please open the page again from your account."),
  };

  function tokenFromHash() {
    const hash = location.hash.replace(/^#/, "");
    return new URLSearchParams(hash).get("token") || "";
  }

  // The program a token names, read without verifying it (the API verifies): only to refuse,
  // before any call, a token of another program than the page's (data-program).
  function tokenProgram(token) {
    try {
      const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const padded = payload + "=".repeat((4 - (payload.length % 4)) % 4);
      const claims = JSON.parse(new TextDecoder().decode(
        Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)),
      ));
      return typeof claims.program === "string" ? claims.program : null;
    } catch {
      return null;
    }
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  class ApiError extends Error {
    constructor(status, code, message, language) {
      super(message);
      this.status = status;
      this.code = code;
      this.language = language;
    }
  }

  // `lang`: the page's language for GET me (?lang=); later calls ask in the language the widget
  // speaks (Accept-Language), so their error messages match it.
  async function call(apiBase, token, method, path, lang) {
    let response;
    const url = new URL(path, apiBase);
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (lang && method === "GET") url.searchParams.set("lang", lang);
    else if (lang) headers["Accept-Language"] = lang;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch {
      throw new ApiError(
        0,
        "network",
        gettext("Could not reach the server. Check your connection."),
      );
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const error = (body && body.error) || {};
      throw new ApiError(
        response.status,
        error.code || "error",
        error.message ||
          interpolate(gettext("The server answered %(status)s."), { status: response.status }),
        response.headers.get("Content-Language"),
      );
    }
    return body;
  }

  function readableError(error) {
    const friendly = ERROR_TEXT[error.code] ? ERROR_TEXT[error.code]() : "";
    if (friendly && error.message && friendly !== error.message) {
      return { title: friendly, detail: error.message };
    }
    return { title: friendly || error.message || gettext("Something went wrong."), detail: "" };
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // fall through to the old way
      }
    }
    const area = el("textarea", { readonly: "", "aria-hidden": "true" });
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }

  function summaryText(referrals, rewards) {
    const parts = [];
    if (!referrals || referrals.total === 0) {
      parts.push(gettext("No friends referred yet."));
    } else {
      const detail = [];
      const count = (n) => ({ count: number(n) });
      if (referrals.pending) {
        detail.push(interpolate(gettext("%(count)s pending"), count(referrals.pending)));
      }
      if (referrals.converted) {
        detail.push(interpolate(gettext("%(count)s ordered"), count(referrals.converted)));
      }
      if (referrals.cancelled) {
        detail.push(interpolate(gettext("%(count)s cancelled"), count(referrals.cancelled)));
      }
      const referred = interpolate(
        ngettext("%(count)s friend referred", "%(count)s friends referred", referrals.total),
        count(referrals.total),
      );
      parts.push(
        detail.length
          ? interpolate(gettext("%(referred)s (%(detail)s)."), {
              referred,
              detail: detail.join(gettext(", ")),
            })
          : interpolate(gettext("%(referred)s."), { referred }),
      );
    }
    if (!rewards || rewards.total === 0) {
      parts.push(gettext("No rewards yet."));
    } else {
      const pieces = [
        interpolate(ngettext("%(count)s reward", "%(count)s rewards", rewards.total), {
          count: number(rewards.total),
        }),
      ];
      const credit = (rewards.credit || []).map((c) => money(c.amount, c.currency));
      if (credit.length) {
        pieces.push(interpolate(gettext("%(amount)s earned"), { amount: credit.join(" + ") }));
      }
      const waiting = (rewards.pending || 0) + (rewards.waiting || 0);
      if (waiting) {
        pieces.push(interpolate(gettext("%(count)s pending"), { count: number(waiting) }));
      }
      parts.push(interpolate(gettext("%(referred)s."), { referred: pieces.join(" · ") }));
    }
    return parts;
  }

  class PromoCodesWidget {
    constructor(root) {
      this.root = root;
      this.token = root.dataset.token || tokenFromHash();
      this.apiBase = root.dataset.apiBase
        ? new URL(root.dataset.apiBase, location.href).href.replace(/\/?$/, "/")
        : DEFAULT_API_BASE;
      this.codes = [];
      this.index = 0;
      this.firstCopyNow = new Set(); // codes whose first copy happened on this page
      this.build();
    }

    build() {
      const id = `pc-${Math.random().toString(36).slice(2, 9)}`;
      this.root.classList.add("pc-widget");
      this.root.setAttribute("role", "region");
      this.root.setAttribute("aria-labelledby", `${id}-title`);
      this.root.setAttribute("aria-busy", "true");
      this.title = el("h2", { class: "pc-title", id: `${id}-title`, text: gettext("Refer a friend") });
      this.offer = el("p", { class: "pc-offer" });
      this.body = el("div", { class: "pc-body" });
      this.status = el("p", { class: "pc-status", role: "status", "aria-live": "polite" });
      this.summary = el("div", {
        class: "pc-summary",
        role: "group",
        "aria-label": gettext("Your referrals and rewards"),
      });
      this.root.replaceChildren(this.title, this.offer, this.body, this.status, this.summary);
      this.body.append(el("p", { class: "pc-loading", text: gettext("Loading your codes…") }));
      this.ids = id;
    }

    // Re-label what build() drew, once the language is known.
    relabel() {
      this.root.lang = language;
      this.title.textContent = gettext("Refer a friend");
      this.summary.setAttribute("aria-label", gettext("Your referrals and rewards"));
    }

    async load() {
      // The page's language, weighed by the API after the participant's own locale.
      const lang = this.root.dataset.lang || new URLSearchParams(location.search).get("lang");
      const localError = async (code, message) => {
        await loadCatalog(this.apiBase, lang || navigator.language);
        this.relabel();
        this.showError({ code, message: message() });
        this.root.setAttribute("aria-busy", "false");
      };
      if (!this.token) {
        await localError("not_authenticated", () =>
          gettext("No participant token was given to the widget."),
        );
        return;
      }
      const pageProgram = this.root.dataset.program;
      const named = tokenProgram(this.token);
      // A token we cannot read goes to the API, which says why it is not valid; only a
      // readable token of another program is refused here.
      if (pageProgram && named !== null && named !== pageProgram) {
        await localError("wrong_program", () =>
          interpolate(gettext("The token is not for the program %(program)s of this page."), {
            program: pageProgram,
          }),
        );
        return;
      }
      try {
        const data = await call(this.apiBase, this.token, "GET", "me", lang);
        await loadCatalog(this.apiBase, data.language);
        this.relabel();
        this.render(data);
      } catch (error) {
        await loadCatalog(this.apiBase, error.language || lang || navigator.language);
        this.relabel();
        this.showError(error);
      } finally {
        this.root.setAttribute("aria-busy", "false");
      }
    }

    showError(error) {
      const { title, detail } = readableError(error);
      const box = el(
        "div",
        { class: "pc-error", role: "alert" },
        el("p", { class: "pc-error-title", text: title }),
      );
      if (detail) box.append(el("p", { class: "pc-error-detail", text: detail }));
      this.offer.textContent = "";
      this.summary.replaceChildren();
      this.body.replaceChildren(box);
    }

    render(data) {
      this.codes = data.referral_codes || [];
      this.index = 0;
      this.offer.textContent = data.friend_offer_text || "";
      this.summary.replaceChildren(
        el("h3", { class: "pc-summary-title", text: gettext("Your referrals") }),
        ...summaryText(data.referrals, data.rewards).map((t) => el("p", { text: t })),
      );
      this.renderRewardCodes(data.reward_codes || []);
      // A program whose widgets hold no referral-code component shows no code at all.
      const components = data.components || ["referral_promo_code"];
      if (!components.includes("referral_promo_code")) {
        this.body.replaceChildren();
        return;
      }
      if (this.codes.length === 0) {
        this.body.replaceChildren(
          el(
            "div",
            { class: "pc-empty" },
            el("p", { class: "pc-empty-title", text: gettext("No code yet — check back soon.") }),
            el("p", {
              text: gettext(
                "Your personal code is on its way. It will appear here as soon as it is ready.",
              ),
            }),
          ),
        );
        return;
      }
      const id = this.ids;
      this.counter = el("p", { class: "pc-counter", id: `${id}-counter`, "aria-live": "polite" });
      this.codeText = el("p", {
        class: "pc-code",
        id: `${id}-code`,
        "aria-label": gettext("Your code"),
        "aria-live": "polite",
        "aria-atomic": "true",
      });
      this.notice = el("p", { class: "pc-notice", id: `${id}-notice`, hidden: "" });
      this.expiry = el("p", { class: "pc-expiry", id: `${id}-expiry`, hidden: "" });
      this.copyButton = el("button", {
        type: "button",
        class: "pc-copy",
        "aria-describedby": `${id}-code ${id}-expiry ${id}-notice`,
        text: gettext("Copy code"),
      });
      this.prevButton = el("button", {
        type: "button",
        class: "pc-nav pc-prev",
        "aria-label": gettext("Previous code"),
        text: gettext("‹ Previous"),
      });
      this.nextButton = el("button", {
        type: "button",
        class: "pc-nav pc-next",
        "aria-label": gettext("Next code"),
        text: gettext("Next ›"),
      });
      this.copyButton.addEventListener("click", () => this.copy());
      this.prevButton.addEventListener("click", () => this.rotate(-1));
      this.nextButton.addEventListener("click", () => this.rotate(1));
      const card = el(
        "div",
        { class: "pc-card" },
        el("p", { class: "pc-label", text: gettext("Your code") }),
        this.codeText,
        this.expiry,
        this.notice,
        this.copyButton,
      );
      const nav = el("div", { class: "pc-navrow" }, this.prevButton, this.counter, this.nextButton);
      card.addEventListener("keydown", (event) => {
        if (event.key === "ArrowLeft") this.rotate(-1);
        if (event.key === "ArrowRight") this.rotate(1);
      });
      this.body.replaceChildren(card);
      if (this.codes.length > 1) this.body.append(nav);
      this.show();
    }

    // Codes earned as rewards (fuel-tank codes), each with its own Copy button.
    renderRewardCodes(rewardCodes) {
      if (rewardCodes.length === 0) return;
      const list = el("ul", { class: "pc-rewards", "aria-label": gettext("Your reward codes") });
      for (const reward of rewardCodes) {
        const text = el("span", { class: "pc-reward-code", text: reward.code });
        const note = el("span", { class: "pc-notice", hidden: "" });
        if (reward.copied_before) {
          note.hidden = false;
          note.textContent = gettext("You've copied this code before");
        }
        const button = el("button", {
          type: "button",
          class: "pc-copy-reward",
          "aria-label": interpolate(gettext("Copy reward code %(code)s"), { code: reward.code }),
          text: gettext("Copy"),
        });
        button.addEventListener("click", () => this.copyReward(reward, button, note));
        const earned = el("span", {
          class: "pc-reward-date",
          text: interpolate(gettext("Earned %(date)s"), {
            date: date(reward.earned_at),
          }),
        });
        const item = el("li", { class: "pc-reward" }, text, button, earned);
        if (reward.expires_at) {
          item.append(el("span", { class: "pc-expiry", text: validUntil(reward.expires_at) }));
        }
        item.append(note);
        list.append(item);
      }
      this.summary.append(
        el("h3", { class: "pc-summary-title", text: gettext("Your reward codes") }),
        el("p", { text: gettext("Use them at checkout: they are yours to spend.") }),
        list,
      );
    }

    async copyReward(reward, button, note) {
      const copied = await copyText(reward.code);
      if (!copied) {
        this.status.textContent = interpolate(
          gettext("Could not copy automatically: your code is %(code)s."),
          { code: reward.code },
        );
        return;
      }
      button.textContent = gettext("Copied");
      this.status.textContent = interpolate(
        gettext("Reward code %(code)s copied to the clipboard."),
        { code: reward.code },
      );
      try {
        const result = await call(
          this.apiBase,
          this.token,
          "POST",
          `codes/${encodeURIComponent(reward.code)}/copy`,
          language,
        );
        reward.copied_before = true;
        if (result.copied_before) {
          note.hidden = false;
          note.textContent = gettext("You've copied this code before");
        }
      } catch (error) {
        const { title } = readableError(error);
        this.status.textContent = interpolate(gettext("Copied, but not recorded: %(reason)s"), {
          reason: title,
        });
      }
    }

    current() {
      return this.codes[this.index];
    }

    show() {
      const code = this.current();
      this.codeText.textContent = code.code;
      this.expiry.hidden = !code.expires_at;
      this.expiry.textContent = code.expires_at ? validUntil(code.expires_at) : "";
      this.counter.textContent = interpolate(gettext("Code %(index)s of %(count)s"), {
        index: number(this.index + 1),
        count: number(this.codes.length),
      });
      const copiedEarlier = code.copied_before && !this.firstCopyNow.has(code.code);
      this.notice.hidden = !copiedEarlier;
      this.notice.textContent = copiedEarlier ? gettext("You've copied this code before") : "";
      this.copyButton.textContent = gettext("Copy code");
    }

    rotate(step) {
      if (this.codes.length < 2) return;
      this.index = (this.index + step + this.codes.length) % this.codes.length;
      // A code first copied on this page counts as copied before once the advocate moves on.
      this.firstCopyNow.clear();
      this.status.textContent = "";
      this.show();
    }

    async copy() {
      const code = this.current();
      const copied = await copyText(code.code);
      if (!copied) {
        const range = document.createRange();
        range.selectNodeContents(this.codeText);
        const selection = getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        this.status.textContent = gettext(
          "Could not copy automatically: the code is selected, copy it now.",
        );
        return;
      }
      this.copyButton.textContent = gettext("Copied");
      this.status.textContent = interpolate(gettext("Code %(code)s copied to the clipboard."), {
        code: code.code,
      });
      try {
        const result = await call(
          this.apiBase,
          this.token,
          "POST",
          `codes/${encodeURIComponent(code.code)}/copy`,
          language,
        );
        if (!result.copied_before) this.firstCopyNow.add(code.code);
        code.copied_before = true;
        code.first_copied_at = result.first_copied_at;
        if (result.copied_before && this.current() === code) {
          this.notice.hidden = false;
          this.notice.textContent = gettext("You've copied this code before");
        }
      } catch (error) {
        const { title } = readableError(error);
        this.status.textContent = interpolate(gettext("Copied, but not recorded: %(reason)s"), {
          reason: title,
        });
      }
    }
  }

  function mountAll() {
    for (const root of document.querySelectorAll("[data-promo-codes]")) {
      if (root.dataset.promoCodesMounted) continue;
      root.dataset.promoCodesMounted = "true";
      const widget = new PromoCodesWidget(root);
      root.promoCodesWidget = widget;
      widget.load();
    }
  }

  window.PromoCodes = { mountAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountAll);
  } else {
    mountAll();
  }
})();
