// regledger certificate page: verifies the certificate bundle in this
// browser with the ledger's own code compiled to WebAssembly
// (web/verify-wasm), and shows which checks passed.
//
// The wasm module exports rl_buffer(slot, len) -> ptr, rl_verify() -> len
// and rl_output() -> ptr; inputs are UTF-8 bytes in slots 0 (bundle JSON),
// 1 (log.json), 2 (the 登记号 of this page) and 3 (the h= prefix of the
// QR code's URL). Everything shown comes from the module's JSON verdict
// and is written with textContent, never as HTML.
(function () {
  'use strict';
  var root = document.getElementById('verify');
  if (!root) { return; }
  var out = document.getElementById('verdict');
  var list = document.getElementById('checks');
  var verified = document.getElementById('verified');
  var MARK = { 'pass': '✓', 'fail': '✗', 'not-run': '–', 'not-proven': '?' };
  var WORD = { 'pass': '通过 passed', 'fail': '失败 failed', 'not-run': '未检查 not checked', 'not-proven': '未证明 not proven' };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function state(s, text) { out.dataset.state = s; out.textContent = text; }

  function fetchBytes(url) {
    return fetch(url, { cache: 'no-store', credentials: 'omit' }).then(function (r) {
      if (!r.ok) { throw new Error(url + ': HTTP ' + r.status); }
      return r.arrayBuffer();
    });
  }

  // The log key this browser saw on its first visit to this site: a later
  // page showing another key fails the verdict (trust on first use).
  function pinned(v) {
    if (!v.log_vkey) { return null; }
    try {
      var k = 'regledger.log_vkey';
      var seen = window.localStorage.getItem(k);
      if (seen === null) { window.localStorage.setItem(k, v.log_vkey); return null; }
      return seen === v.log_vkey ? null : seen;
    } catch (e) { return null; }
  }

  function show(v) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    v.checks.forEach(function (c) {
      var li = el('li', 'r-' + c.result);
      li.dataset.check = c.id;
      li.dataset.result = c.result;
      li.appendChild(el('span', 'mark', (MARK[c.result] || '?') + ' '));
      li.appendChild(el('strong', null, c.zh));
      li.appendChild(el('small', null, ' ' + c.en + ' — ' + (WORD[c.result] || c.result)));
      if (c.detail) { li.appendChild(el('span', 'detail', c.detail)); }
      list.appendChild(li);
    });
    var other = pinned(v);
    if (other !== null) {
      var li = el('li', 'r-fail');
      li.dataset.check = 'pinned_key';
      li.dataset.result = 'fail';
      li.appendChild(el('strong', null, '✗ 日志公钥与本浏览器此前所见不同'));
      li.appendChild(el('span', 'detail', 'The log key differs from the one this browser saw before: ' + other));
      list.appendChild(li);
      state('fail', '验证失败：日志公钥已变更（log key changed）');
      return;
    }
    state(v.ok ? 'pass' : 'fail', v.verdict);
    while (verified.firstChild) { verified.removeChild(verified.firstChild); }
    if (v.ok && v.certificate) {
      verified.appendChild(el('h3', null, '浏览器验证的证书内容 (verified fields)'));
      var dl = el('dl', 'fields');
      var rows = [
        ['数据产品名称', v.certificate.product_name],
        ['登记号', v.certificate.registration_no],
        ['经营主体', v.certificate.business_entity_name],
        ['区块链编号', v.certificate.blockchain_no],
        ['登记日期', v.certificate.registered_on],
        ['状态（证书包所载）', v.status ? v.status.label_zh + (v.status.proven_current ? '' : '（未证明为当前状态 not proven current）') : ''],
        ['检查点 size', String(v.checkpoint_size)],
        ['日志公钥指纹', v.log_fingerprint]
      ];
      rows.forEach(function (r) {
        dl.appendChild(el('dt', null, r[0]));
        dl.appendChild(el('dd', r[0] === '日志公钥指纹' ? 'fp' : null, r[1] === undefined ? '' : String(r[1])));
      });
      verified.appendChild(dl);
    }
  }

  // Compiled synchronously once the bytes are here (the verdict is then
  // shown in the same task as the last download; browsers allow it for a
  // module this size), asynchronously where a browser refuses that.
  function instantiate(bytes) {
    try {
      return Promise.resolve(new WebAssembly.Instance(new WebAssembly.Module(bytes), {}));
    } catch (e) {
      if (!(e instanceof RangeError)) { return Promise.reject(e); }
      return WebAssembly.instantiate(bytes, {}).then(function (m) { return m.instance; });
    }
  }

  function run() {
    state('pending', '正在浏览器中验证… (verifying in this browser)');
    var h = new URLSearchParams(window.location.search).get('h') || '';
    var enc = new TextEncoder();
    return Promise.all([
      fetchBytes(root.dataset.wasm),
      fetchBytes(root.dataset.bundle),
      fetchBytes(root.dataset.log)
    ]).then(function (parts) {
      return instantiate(parts[0]).then(function (instance) {
        var x = instance.exports;
        var inputs = [new Uint8Array(parts[1]), new Uint8Array(parts[2]), enc.encode(root.dataset.no || ''), enc.encode(h)];
        inputs.forEach(function (b, i) {
          var p = x.rl_buffer(i, b.length);
          if (p === 0) { throw new Error('input ' + i + ' too large'); }
          new Uint8Array(x.memory.buffer, p, b.length).set(b);
        });
        var n = x.rl_verify();
        var bytes = new Uint8Array(x.memory.buffer, x.rl_output(), n);
        show(JSON.parse(new TextDecoder('utf-8').decode(bytes)));
      });
    }).catch(function (e) {
      state('error', '无法完成验证（could not verify）：' + e.message);
    });
  }

  run();
}());
