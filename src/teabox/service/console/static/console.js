// teabox console: the few things a page cannot do without a script.
// Files are encrypted and decrypted here, in the browser, with WebCrypto's AES-GCM
// (ciphertext followed by the 16-byte tag, 8 zero bytes of additional data: teabox's
// and Teaclave's aes-gcm-128 format), so plaintext never reaches the server.
"use strict";

const AAD = new Uint8Array(8);

function csrf() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text) {
  if (!/^([0-9a-f]{2})*$/i.test(text)) throw new Error("not a hexadecimal string");
  return new Uint8Array(text.match(/../g).map((pair) => parseInt(pair, 16)));
}

async function post(url, body, type) {
  const response = await fetch(url, {
    method: "POST",
    body: body,
    headers: { "Content-Type": type, "X-CSRF-Token": csrf() },
    credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error || {};
    throw new Error(error.message || `the server answered ${response.status}`);
  }
  return answer;
}

async function aesKey(raw, usage) {
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, [usage]);
}

function say(element, text, failed) {
  element.textContent = text;
  element.classList.toggle("error", Boolean(failed));
}

async function uploadInput(event) {
  event.preventDefault();
  const status = document.getElementById("upload-status");
  const file = document.getElementById("input-file").files[0];
  if (!file) return;
  try {
    say(status, `Encrypting ${file.name} in this browser…`);
    const key = crypto.getRandomValues(new Uint8Array(16));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: iv, additionalData: AAD, tagLength: 128 },
      await aesKey(key, "encrypt"), await file.arrayBuffer()));
    const tag = sealed.slice(sealed.length - 16);
    say(status, "Uploading the ciphertext…");
    const name = `${file.name}.enc`;
    const stored = await post(`/console/files/upload?name=${encodeURIComponent(name)}`, sealed, "application/octet-stream");
    const registered = await post("/console/files/register-input",
      JSON.stringify({ url: stored.url, key: hex(key), iv: hex(iv), cmac: hex(tag) }), "application/json");
    say(status, `Registered input ${registered.data_id}. Reloading…`);
    window.location.reload();
  } catch (error) {
    say(status, `Not registered: ${error.message}`, true);
  }
}

async function registerOutput(event) {
  event.preventDefault();
  const status = document.getElementById("output-status");
  const name = document.getElementById("output-name").value;
  try {
    const key = crypto.getRandomValues(new Uint8Array(16));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const registered = await post("/console/files/new-output",
      JSON.stringify({ name: name, key: hex(key), iv: hex(iv) }), "application/json");
    const keyFile = JSON.stringify({ data_id: registered.data_id, schema: "aes-gcm-128", key: hex(key), iv: hex(iv) });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([keyFile], { type: "application/json" }));
    link.download = `${registered.data_id}.key.json`;
    link.id = "key-file-link";
    link.textContent = `Save the key file for ${registered.data_id}`;
    status.textContent = `Registered output ${registered.data_id}. `;
    status.classList.remove("error");
    status.appendChild(link);
    link.click();
  } catch (error) {
    say(status, `Not registered: ${error.message}`, true);
  }
}

async function decryptOutput(event) {
  event.preventDefault();
  const form = event.target;
  const id = form.dataset.id;
  const shown = document.getElementById(`plaintext-${id}`);
  try {
    const keyFile = JSON.parse(await form.elements.keyfile.files[0].text());
    if (keyFile.data_id !== id) throw new Error(`that key file is for ${keyFile.data_id}, not ${id}`);
    const response = await fetch(`/console/files/${encodeURIComponent(id)}/ciphertext`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const sealed = new Uint8Array(await response.arrayBuffer());
    if (hex(sealed.slice(sealed.length - 16)) !== form.dataset.cmac) {
      throw new Error("the file is not the one the platform recorded (its tag differs)");
    }
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: unhex(keyFile.iv), additionalData: AAD, tagLength: 128 },
      await aesKey(unhex(keyFile.key), "decrypt"), sealed);
    shown.textContent = new TextDecoder("utf-8", { fatal: false }).decode(plain);
    shown.classList.remove("error");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([plain]));
    link.download = id.replace(/^output-/, "") + ".txt";
    link.textContent = "Save the decrypted file";
    shown.after(link);
  } catch (error) {
    shown.textContent = `Could not decrypt: ${error.message || "the key does not open this file"}`;
    shown.classList.add("error");
  }
}

function followTask(element) {
  const timeline = document.getElementById("timeline");
  let seen = element.dataset.status;
  const poll = async () => {
    try {
      const response = await fetch(element.dataset.stateUrl, { credentials: "same-origin" });
      const state = await response.json();
      if (state.status && state.status !== seen) {
        seen = state.status;
        element.textContent = state.status;
        const item = document.createElement("li");
        item.textContent = `${state.status} at ${state.updated_at}`;
        timeline.appendChild(item);
        if (state.ended) {
          window.location.reload();
          return;
        }
      }
      if (!state.ended) setTimeout(poll, 1000);
    } catch (error) {
      setTimeout(poll, 3000);
    }
  };
  if (!["Finished", "Failed", "Canceled"].includes(seen)) setTimeout(poll, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const upload = document.getElementById("upload-input");
  if (upload) upload.addEventListener("submit", uploadInput);
  const output = document.getElementById("register-output");
  if (output) output.addEventListener("submit", registerOutput);
  document.querySelectorAll("form.decrypt").forEach((form) => form.addEventListener("submit", decryptOutput));
  const status = document.getElementById("task-status");
  if (status) followTask(status);
});
