/*
 * Referral promo-code widget. Plain modern JavaScript, no build step.
 *
 * Mounts into every <div data-promo-codes> of the page. The participant token comes from the
 * element's data-token attribute or, on the widget page, from the URL fragment (#token=…),
 * which browsers never send to a server. The widget API lives on the origin this script was
 * loaded from (override with data-api-base on the element). With data-program="<slug>" (the
 * widget page sets it) a token of another program is refused before any call.
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

  const ERROR_TEXT = {
    token_expired: "This link has expired. Please open the page again from your account.",
    bad_signature: "This link is not valid. Please open the page again from your account.",
    unknown_program: "This link is not valid for any program.",
    malformed_token: "This link is not valid. Please open the page again from your account.",
    bad_algorithm: "This link is not valid. Please open the page again from your account.",
    missing_claim: "This link is incomplete. Please open the page again from your account.",
    not_authenticated: "This page needs a personal link. Please open it from your account.",
    throttled: "Too many requests just now. Please wait a minute and try again.",
    permission_denied: "This site may not show the referral widget.",
    wrong_program: "This link is for another program. Please open the page again from your account.",
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
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function call(apiBase, token, method, path) {
    let response;
    try {
      response = await fetch(new URL(path, apiBase), {
        method,
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch {
      throw new ApiError(0, "network", "Could not reach the server. Check your connection.");
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
        error.message || `The server answered ${response.status}.`,
      );
    }
    return body;
  }

  function readableError(error) {
    const friendly = ERROR_TEXT[error.code];
    if (friendly && error.message && friendly !== error.message) {
      return { title: friendly, detail: error.message };
    }
    return { title: friendly || error.message || "Something went wrong.", detail: "" };
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

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function summaryText(referrals, rewards) {
    const parts = [];
    if (!referrals || referrals.total === 0) {
      parts.push("No friends referred yet.");
    } else {
      const detail = [];
      if (referrals.pending) detail.push(`${referrals.pending} pending`);
      if (referrals.converted) detail.push(`${referrals.converted} ordered`);
      if (referrals.cancelled) detail.push(`${referrals.cancelled} cancelled`);
      parts.push(
        `${plural(referrals.total, "friend", "friends")} referred` +
          (detail.length ? ` (${detail.join(", ")}).` : "."),
      );
    }
    if (!rewards || rewards.total === 0) {
      parts.push("No rewards yet.");
    } else {
      let text = `${plural(rewards.total, "reward", "rewards")}`;
      const credit = (rewards.credit || []).map((c) => `${c.amount} ${c.currency}`);
      if (credit.length) text += ` · ${credit.join(" + ")} earned`;
      const waiting = (rewards.pending || 0) + (rewards.waiting || 0);
      if (waiting) text += ` · ${waiting} pending`;
      parts.push(`${text}.`);
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
      this.title = el("h2", { class: "pc-title", id: `${id}-title`, text: "Refer a friend" });
      this.offer = el("p", { class: "pc-offer" });
      this.body = el("div", { class: "pc-body" });
      this.status = el("p", { class: "pc-status", role: "status", "aria-live": "polite" });
      this.summary = el("div", {
        class: "pc-summary",
        role: "group",
        "aria-label": "Your referrals and rewards",
      });
      this.root.replaceChildren(this.title, this.offer, this.body, this.status, this.summary);
      this.body.append(el("p", { class: "pc-loading", text: "Loading your codes…" }));
      this.ids = id;
    }

    async load() {
      if (!this.token) {
        this.showError({
          code: "not_authenticated",
          message: "No participant token was given to the widget.",
        });
        return;
      }
      const pageProgram = this.root.dataset.program;
      const named = tokenProgram(this.token);
      // A token we cannot read goes to the API, which says why it is not valid; only a
      // readable token of another program is refused here.
      if (pageProgram && named !== null && named !== pageProgram) {
        this.showError({
          code: "wrong_program",
          message: `The token is not for the program ${pageProgram} of this page.`,
        });
        this.root.setAttribute("aria-busy", "false");
        return;
      }
      try {
        const data = await call(this.apiBase, this.token, "GET", "me");
        this.render(data);
      } catch (error) {
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
        el("h3", { class: "pc-summary-title", text: "Your referrals" }),
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
            el("p", { class: "pc-empty-title", text: "No code yet — check back soon." }),
            el("p", {
              text: "Your personal code is on its way. It will appear here as soon as it is ready.",
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
        "aria-label": "Your code",
        "aria-live": "polite",
        "aria-atomic": "true",
      });
      this.notice = el("p", { class: "pc-notice", id: `${id}-notice`, hidden: "" });
      this.copyButton = el("button", {
        type: "button",
        class: "pc-copy",
        "aria-describedby": `${id}-code ${id}-notice`,
        text: "Copy code",
      });
      this.prevButton = el("button", {
        type: "button",
        class: "pc-nav pc-prev",
        "aria-label": "Previous code",
        text: "‹ Previous",
      });
      this.nextButton = el("button", {
        type: "button",
        class: "pc-nav pc-next",
        "aria-label": "Next code",
        text: "Next ›",
      });
      this.copyButton.addEventListener("click", () => this.copy());
      this.prevButton.addEventListener("click", () => this.rotate(-1));
      this.nextButton.addEventListener("click", () => this.rotate(1));
      const card = el(
        "div",
        { class: "pc-card" },
        el("p", { class: "pc-label", text: "Your code" }),
        this.codeText,
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
      const list = el("ul", { class: "pc-rewards", "aria-label": "Your reward codes" });
      for (const reward of rewardCodes) {
        const text = el("span", { class: "pc-reward-code", text: reward.code });
        const note = el("span", { class: "pc-notice", hidden: "" });
        if (reward.copied_before) {
          note.hidden = false;
          note.textContent = "You've copied this code before";
        }
        const button = el("button", {
          type: "button",
          class: "pc-copy-reward",
          "aria-label": `Copy reward code ${reward.code}`,
          text: "Copy",
        });
        button.addEventListener("click", () => this.copyReward(reward, button, note));
        list.append(el("li", { class: "pc-reward" }, text, button, note));
      }
      this.summary.append(
        el("h3", { class: "pc-summary-title", text: "Your reward codes" }),
        el("p", { text: "Use them at checkout: they are yours to spend." }),
        list,
      );
    }

    async copyReward(reward, button, note) {
      const copied = await copyText(reward.code);
      if (!copied) {
        this.status.textContent = `Could not copy automatically: your code is ${reward.code}.`;
        return;
      }
      button.textContent = "Copied";
      this.status.textContent = `Reward code ${reward.code} copied to the clipboard.`;
      try {
        const result = await call(
          this.apiBase,
          this.token,
          "POST",
          `codes/${encodeURIComponent(reward.code)}/copy`,
        );
        reward.copied_before = true;
        if (result.copied_before) {
          note.hidden = false;
          note.textContent = "You've copied this code before";
        }
      } catch (error) {
        const { title } = readableError(error);
        this.status.textContent = `Copied, but not recorded: ${title}`;
      }
    }

    current() {
      return this.codes[this.index];
    }

    show() {
      const code = this.current();
      this.codeText.textContent = code.code;
      this.counter.textContent = `Code ${this.index + 1} of ${this.codes.length}`;
      const copiedEarlier = code.copied_before && !this.firstCopyNow.has(code.code);
      this.notice.hidden = !copiedEarlier;
      this.notice.textContent = copiedEarlier ? "You've copied this code before" : "";
      this.copyButton.textContent = "Copy code";
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
        this.status.textContent = "Could not copy automatically: the code is selected, copy it now.";
        return;
      }
      this.copyButton.textContent = "Copied";
      this.status.textContent = `Code ${code.code} copied to the clipboard.`;
      try {
        const result = await call(
          this.apiBase,
          this.token,
          "POST",
          `codes/${encodeURIComponent(code.code)}/copy`,
        );
        if (!result.copied_before) this.firstCopyNow.add(code.code);
        code.copied_before = true;
        code.first_copied_at = result.first_copied_at;
        if (result.copied_before && this.current() === code) {
          this.notice.hidden = false;
          this.notice.textContent = "You've copied this code before";
        }
      } catch (error) {
        const { title } = readableError(error);
        this.status.textContent = `Copied, but not recorded: ${title}`;
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
