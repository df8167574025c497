// The API explorer at /docs: reads /openapi.json and lists every operation with a form to send it.
// Plain JavaScript, loaded as a file under the page's strict Content-Security-Policy (no inline
// code, Trusted Types): the page is built with createElement and text nodes only, never by
// writing a string into an HTML sink such as innerHTML.
"use strict";
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) { if (k === "class") e.className = v; else e.setAttribute(k, v); }
  for (const c of children) e.append(c);
  return e;
};
const resolve = (doc, s) => {
  if (s && s.$ref) { const name = s.$ref.split("/").pop(); return doc.components.schemas[name]; }
  return s;
};
const example = (doc, s, depth = 0) => {
  s = resolve(doc, s) || {};
  if (depth > 4) return null;
  if (s.example !== undefined) return s.example;
  if (s.enum) return s.enum[0];
  const t = Array.isArray(s.type) ? s.type.find(x => x !== "null") : s.type;
  if (s.allOf) return Object.assign({}, ...s.allOf.map(x => example(doc, x, depth + 1)));
  if (s.oneOf || s.anyOf) return example(doc, (s.oneOf || s.anyOf)[0], depth + 1);
  if (t === "object" || s.properties) {
    const o = {};
    for (const [k, v] of Object.entries(s.properties || {})) {
      if (depth === 0 || (s.required || []).includes(k)) o[k] = example(doc, v, depth + 1);
    }
    return o;
  }
  if (t === "array") return [];
  if (t === "integer" || t === "number") return 0;
  if (t === "boolean") return false;
  return "";
};
const getCookie = name => (document.cookie.split("; ").find(c => c.startsWith(name + "=")) || "").slice(name.length + 1);
function operation(doc, path, method, op) {
  const params = (op.parameters || []);
  const inputs = {};
  const table = el("table");
  for (const p of params) {
    const i = el("input", { type: "text", placeholder: p.in });
    inputs[p.in + ":" + p.name] = i;
    table.append(el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " *" : ""), el("td", {}, p.in), el("td", {}, i), el("td", {}, p.description || "")));
  }
  let body = null, contentType = null;
  if (op.requestBody) {
    contentType = Object.keys(op.requestBody.content)[0];
    const schema = op.requestBody.content[contentType].schema;
    const ex = example(doc, schema);
    body = el("textarea");
    body.value = contentType.includes("json") ? JSON.stringify(ex, null, 2) : new URLSearchParams(ex || {}).toString();
  }
  const out = el("pre", {}, "");
  const send = el("button", { type: "button" }, "Send");
  send.addEventListener("click", async () => {
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const p of params) {
      const v = inputs[p.in + ":" + p.name].value;
      if (v === "") continue;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(v));
      else if (p.in === "query") query.append(p.name, v);
      else if (p.in === "header") headers[p.name] = v;
    }
    if ([...query].length) url += "?" + query;
    const auth = document.getElementById("authorization").value;
    const user = document.getElementById("user").value;
    if (auth) headers["Authorization"] = auth;
    else if (user) headers["Authorization"] = "Basic " + btoa(user + ":" + document.getElementById("pass").value);
    const xsrf = getCookie("XSRF-TOKEN");
    if (xsrf) headers["X-XSRF-TOKEN"] = decodeURIComponent(xsrf);
    const init = { method: method.toUpperCase(), headers, credentials: "same-origin" };
    if (body && body.value.trim() !== "") { init.body = body.value; headers["Content-Type"] = contentType; }
    out.textContent = "…";
    try {
      const r = await fetch(url, init);
      const text = await r.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) {}
      out.textContent = r.status + " " + r.statusText + "\n" + [...r.headers].map(h => h.join(": ")).join("\n") + "\n\n" + shown;
    } catch (e) { out.textContent = String(e); }
  });
  const responses = el("table");
  for (const [status, r] of Object.entries(op.responses || {})) {
    const types = Object.entries(r.content || {}).map(([t, c]) => t + (c.schema && c.schema.$ref ? " → " + c.schema.$ref.split("/").pop() : "")).join(", ");
    responses.append(el("tr", {}, el("td", {}, el("b", {}, status)), el("td", {}, r.description || ""), el("td", {}, el("code", {}, types))));
  }
  const schemaOf = op.requestBody ? resolve(doc, op.requestBody.content[contentType].schema) : null;
  return el("details", { class: "op" },
    el("summary", {}, el("span", { class: "m " + method }, method), " ", el("code", {}, path), " — ", op.summary || ""),
    el("div", {},
      op.description ? el("p", {}, op.description) : "",
      params.length ? el("div", {}, el("h4", {}, "Parameters"), table) : "",
      body ? el("div", {}, el("h4", {}, "Body (" + contentType + ")"), body,
        el("details", {}, el("summary", {}, "Schema"), el("pre", {}, JSON.stringify(schemaOf, null, 2)))) : "",
      el("h4", {}, "Responses"), responses,
      el("p", {}, send), out));
}
fetch("/openapi.json").then(r => r.json()).then(doc => {
  const root = document.getElementById("ops");
  root.textContent = "";
  root.append(el("p", {}, doc.info.description || "", " (version " + doc.info.version + ", OpenAPI " + doc.openapi + ")"));
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "put", "delete", "patch"]) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ["other"])[0];
      (byTag[tag] = byTag[tag] || []).push(operation(doc, path, method, op));
    }
  }
  for (const t of doc.tags || Object.keys(byTag).map(name => ({ name }))) {
    if (!byTag[t.name]) continue;
    root.append(el("h2", {}, t.name), el("p", {}, t.description || ""), ...byTag[t.name]);
  }
}).catch(e => { document.getElementById("ops").textContent = "Could not load /openapi.json: " + e; });
