// Boots the vendored GraphiQL (UMD build; globals React, ReactDOM, GraphiQL)
// into #graphiql. Loaded as an external script so the page works under a CSP
// without 'unsafe-inline' / 'unsafe-eval' for scripts.
//
// The server names the page's mode in <meta name="mandate-graphiql">:
//   open         auth.open: every request is served unrestricted; the schema
//                is fetched at once.
//   development  HS256 demo tokens on: a picker (agency / role / purpose) mints
//                a demo token (POST /graphiql/token), sets the request headers,
//                fetches that agency's schema and opens its example operations.
//   credentials  nothing goes out until the Headers tab holds a credential
//                (Authorization or x-api-key); the headers typed are then kept
//                for the browser session (sessionStorage) and sent with every
//                request, the schema fetch first.
(function () {
  'use strict';

  var ENDPOINT = '/graphql';
  var HEADERS_KEY = 'mandate:graphiql:headers';
  var PICK_KEY = 'mandate:graphiql:pick';
  var h = window.React && window.React.createElement;

  var root = document.getElementById('graphiql');
  var meta = document.querySelector('meta[name="mandate-graphiql"]');
  var MODE = (meta && meta.getAttribute('content')) || 'credentials';

  var HEADERS_TEMPLATE =
    '{\n' +
    '  "x-api-key": "",\n' +
    '  "x-mandate-purpose": "",\n' +
    '  "x-mandate-case": ""\n' +
    '}';

  var DEFAULT_QUERY =
    '# Request headers: "Headers" tab below.\n' +
    '{\n' +
    '  residents(first: 3) {\n' +
    '    edges {\n' +
    '      node {\n' +
    '        id\n' +
    '        name\n' +
    '      }\n' +
    '    }\n' +
    '    totalCount\n' +
    '  }\n' +
    '}\n';

  function showError(message) {
    root.textContent = '';
    var pre = document.createElement('pre');
    pre.className = 'graphiql-loading';
    pre.textContent = message;
    root.appendChild(pre);
  }

  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    showError('GraphiQL failed to load (missing ' +
      ['React', 'ReactDOM', 'GraphiQL'].filter(function (n) { return !window[n]; }).join(', ') +
      '). Check that /graphiql/assets/* is served.');
    return;
  }

  // --- headers -------------------------------------------------------------

  // The headers of a JSON text, or null when it is not a JSON object of strings.
  function parseHeaders(text) {
    if (!text || !text.trim()) return {};
    try {
      var value = JSON.parse(text);
      if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
      return value;
    } catch (e) {
      return null;
    }
  }

  // Whether `headers` (a Headers object) carries a credential worth sending.
  function hasCredential(headers) {
    var auth = (headers.get('authorization') || '').trim();
    var key = (headers.get('x-api-key') || '').trim();
    return /^\S+\s+\S+/.test(auth) || key.length > 0;
  }

  function apply(target, extra) {
    if (!extra || typeof extra !== 'object') return;
    Object.keys(extra).forEach(function (name) {
      var value = extra[name];
      if (value !== undefined && value !== null && String(value) !== '') {
        target.set(name, String(value));
      }
    });
  }

  // A canonical text of some headers, to tell a change.
  function canonical(headers) {
    var pairs = [];
    headers.forEach(function (value, name) { pairs.push([name, value]); });
    pairs.sort();
    return JSON.stringify(pairs);
  }

  function sessionGet(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return null; }
  }

  function sessionSet(key, value) {
    try { window.sessionStorage.setItem(key, value); } catch (e) { /* storage off */ }
  }

  // A Storage kept in memory: the picker's tabs start afresh on every pick.
  function memoryStorage() {
    var items = {};
    return {
      getItem: function (k) { return Object.prototype.hasOwnProperty.call(items, k) ? items[k] : null; },
      setItem: function (k, v) { items[k] = String(v); },
      removeItem: function (k) { delete items[k]; },
      clear: function () { items = {}; },
      get length() { return Object.keys(items).length; }
    };
  }

  // POSTs the operation as JSON to the same-origin GraphQL endpoint, with the
  // session's headers (`session()`: typed once, or set by the picker) and those
  // of GraphiQL's headers editor over them. Outside open mode a request without
  // a credential is not sent at all: it would only be refused (401).
  function makeFetcher(session) {
    return function fetcher(graphQLParams, opts) {
      var headers = new Headers({
        'content-type': 'application/json',
        'accept': 'application/graphql-response+json, application/json'
      });
      apply(headers, session());
      apply(headers, opts && opts.headers);
      if (MODE !== 'open' && !hasCredential(headers)) {
        return Promise.resolve({
          errors: [{
            message: MODE === 'development'
              ? 'Not sent: pick a demo agency above, or type a credential in the Headers tab.'
              : 'Not sent: type a credential in the Headers tab ("x-api-key", or "Authorization": "Bearer …"), ' +
                'with "x-mandate-purpose" and "x-mandate-case".'
          }]
        });
      }
      return fetch(ENDPOINT, {
        method: 'POST',
        headers: headers,
        body: JSON.stringify(graphQLParams),
        credentials: 'same-origin'
      }).then(function (response) {
        return response.text().then(function (text) {
          try {
            return JSON.parse(text);
          } catch (e) {
            // Not a GraphQL response (proxy error page, 404, …): surface it.
            return {
              errors: [{
                message: 'HTTP ' + response.status + ' ' + response.statusText +
                  ' from ' + ENDPOINT + ': ' + text.slice(0, 2000)
              }]
            };
          }
        });
      });
    };
  }

  function sessionHeadersObject(text) {
    var parsed = parseHeaders(text);
    var headers = new Headers();
    apply(headers, parsed);
    return headers;
  }

  // --- development mode: the picker -----------------------------------------

  function uniq(list) {
    return list.filter(function (v, i) { return list.indexOf(v) === i; });
  }

  function examplesFor(catalog, pick) {
    return catalog.examples.filter(function (e) {
      return e.agency === pick.agency &&
        (!e.role || e.role === pick.role) &&
        (!e.purpose || e.purpose === pick.purpose);
    });
  }

  function isMandate(catalog, pick) {
    return catalog.mandates.some(function (m) {
      return m.agency === pick.agency && m.role === pick.role && m.purpose === pick.purpose;
    });
  }

  // The pick an agency opens with: its first example's role and purpose, else
  // the first the lists name.
  function defaultPick(catalog, agency) {
    var ex = catalog.examples.filter(function (e) {
      return e.agency === agency && isMandate(catalog, { agency: agency, role: e.role, purpose: e.purpose });
    })[0];
    if (ex) return { agency: agency, role: ex.role, purpose: ex.purpose };
    var m = catalog.mandates.filter(function (x) { return x.agency === agency; })[0];
    return m ? { agency: agency, role: m.role, purpose: m.purpose } : null;
  }

  function mintToken(agency, role) {
    return fetch('/graphiql/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agency: agency, role: role }),
      credentials: 'same-origin'
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || ('HTTP ' + response.status));
        return body;
      });
    });
  }

  function select(label, id, value, options, onChange, placeholder) {
    var children = [];
    if (placeholder) children.push(h('option', { key: '', value: '' }, placeholder));
    options.forEach(function (o) {
      children.push(h('option', { key: o.value, value: o.value }, o.label));
    });
    return h('label', { className: 'mandate-field', htmlFor: id }, label,
      h('select', {
        id: id,
        value: value || '',
        onChange: function (ev) { onChange(ev.target.value); }
      }, children));
  }

  function Picker(props) {
    var catalog = props.catalog;
    var pick = props.pick || { agency: '', role: '', purpose: '' };
    var agencies = uniq(catalog.mandates.map(function (m) { return m.agency; }));
    var roles = uniq(catalog.mandates
      .filter(function (m) { return m.agency === pick.agency; })
      .map(function (m) { return m.role; }));
    var purposes = uniq(catalog.mandates
      .filter(function (m) { return m.agency === pick.agency && m.role === pick.role; })
      .map(function (m) { return m.purpose; }));
    var countFor = function (p) {
      var n = examplesFor(catalog, p).length;
      return n ? ' (' + n + (n === 1 ? ' example)' : ' examples)') : '';
    };
    return h('div', { className: 'mandate-picker' },
      select('Agency', 'mandate-agency', pick.agency,
        agencies.map(function (a) { return { value: a, label: a }; }),
        function (agency) { if (agency) props.onPick(defaultPick(catalog, agency)); },
        pick.agency ? null : '— pick a demo agency —'),
      select('Role', 'mandate-role', pick.role,
        roles.map(function (r) { return { value: r, label: r }; }),
        function (role) {
          var first = catalog.mandates.filter(function (m) {
            return m.agency === pick.agency && m.role === role;
          })[0];
          if (first) props.onPick({ agency: pick.agency, role: role, purpose: first.purpose });
        }),
      select('Purpose', 'mandate-purpose', pick.purpose,
        purposes.map(function (p) {
          return { value: p, label: p + countFor({ agency: pick.agency, role: pick.role, purpose: p }) };
        }),
        function (purpose) { props.onPick({ agency: pick.agency, role: pick.role, purpose: purpose }); })
    );
  }

  // --- the page ---------------------------------------------------------------

  function App() {
    var useState = React.useState, useRef = React.useRef, useMemo = React.useMemo,
      useEffect = React.useEffect, useCallback = React.useCallback;

    var initialHeaders = MODE === 'credentials' ? (sessionGet(HEADERS_KEY) || HEADERS_TEMPLATE) : '';
    // The session's headers: typed once (credentials mode) or set by the picker.
    var sessionRef = useRef(parseHeaders(initialHeaders) || {});
    var initialReady = MODE === 'open' || hasCredential(sessionHeadersObject(initialHeaders));
    // The headers the schema was last fetched with.
    var fetchedRef = useRef(initialReady ? canonical(sessionHeadersObject(initialHeaders)) : null);
    var debounceRef = useRef(null);

    var _v = useState(0), version = _v[0], setVersion = _v[1];
    var _s = useState(initialReady), fetchSchema = _s[0], setFetchSchema = _s[1];
    var _c = useState(null), catalog = _c[0], setCatalog = _c[1];
    var _p = useState(null), pick = _p[0], setPick = _p[1];
    var _m = useState(null), mount = _m[0], setMount = _m[1];
    var _st = useState(''), status = _st[0], setStatus = _st[1];
    var _hk = useState(hasCredential(sessionHeadersObject(initialHeaders))), hasKey = _hk[0], setHasKey = _hk[1];

    // A new fetcher makes GraphiQL fetch the schema again.
    var fetcher = useMemo(function () {
      return makeFetcher(function () { return sessionRef.current; });
    }, [version]);

    var refetch = useCallback(function (headers) {
      fetchedRef.current = canonical(headers);
      setFetchSchema(true);
      setVersion(function (v) { return v + 1; });
    }, []);

    // Headers edited in the Headers tab: kept for the session once valid; the
    // schema is fetched again once they hold a credential and have settled.
    var onEditHeaders = useCallback(function (text) {
      var parsed = parseHeaders(text);
      if (parsed === null) return;
      sessionRef.current = parsed;
      if (MODE === 'credentials') sessionSet(HEADERS_KEY, text);
      var headers = sessionHeadersObject(text);
      var credential = hasCredential(headers);
      setHasKey(credential);
      if (debounceRef.current) clearTimeout(debounceRef.current);
      if (MODE === 'open' || !credential || canonical(headers) === fetchedRef.current) return;
      debounceRef.current = setTimeout(function () { refetch(headers); }, 600);
    }, [refetch]);

    // Development mode: load the picker's choices, restore the last pick.
    useEffect(function () {
      if (MODE !== 'development') return;
      fetch('/graphiql/mandates', { credentials: 'same-origin' })
        .then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(function (body) {
          setCatalog(body);
          var saved = parseHeaders(sessionGet(PICK_KEY));
          if (saved && saved.agency && isMandate(body, saved)) choose(body, saved);
        })
        .catch(function (e) { setStatus('Could not load the demo agencies: ' + e.message); });
    }, []);

    var tokens = useRef({});
    var latest = useRef(0);
    function choose(cat, next) {
      if (!next) return;
      // Picks may overlap (a token still being minted): the last one wins.
      var turn = ++latest.current;
      setPick(next);
      sessionSet(PICK_KEY, JSON.stringify(next));
      setStatus('Minting a demo token for ' + next.agency + ' / ' + next.role + '…');
      var cacheKey = next.agency + '\u0000' + next.role;
      var cached = tokens.current[cacheKey];
      var got = cached && cached.expiresAt - Date.now() > 60000
        ? Promise.resolve(cached)
        : mintToken(next.agency, next.role).then(function (body) {
          var entry = { token: body.token, expiresAt: Date.now() + body.expiresIn * 1000 };
          tokens.current[cacheKey] = entry;
          return entry;
        });
      got.then(function (entry) {
        if (turn !== latest.current) return;
        var headers = {
          'Authorization': 'Bearer ' + entry.token,
          'x-mandate-purpose': next.purpose,
          'x-mandate-case': cat.case
        };
        var text = JSON.stringify(headers, null, 2);
        sessionRef.current = headers;
        fetchedRef.current = canonical(sessionHeadersObject(text));
        setHasKey(true);
        var examples = examplesFor(cat, next);
        var tabs = examples.length
          ? examples.map(function (e) { return { query: e.query, variables: e.variables, headers: text }; })
          : [{
            query: '# ' + next.agency + ' / ' + next.role + ' / ' + next.purpose + '\n' +
              '# No example operation for this mandate: Ctrl-Space lists the fields it grants,\n' +
              '# the Docs (book icon) describe them, masked ones marked.\n{\n  __typename\n}\n',
            headers: text
          }];
        setMount({
          key: next.agency + '|' + next.role + '|' + next.purpose + '|' + Date.now(),
          headers: text,
          tabs: tabs,
          storage: memoryStorage()
        });
        setFetchSchema(true);
        setVersion(function (v) { return v + 1; });
        setStatus(examples.length
          ? (examples.length === 1 ? '1 example operation opened.' : examples.length + ' example operations opened as tabs.')
          : 'No example operation for this mandate.');
      }).catch(function (e) {
        if (turn === latest.current) setStatus('No demo token: ' + e.message);
      });
    }

    var bar;
    if (MODE === 'development') {
      bar = h('div', { className: 'mandate-bar', role: 'toolbar', 'aria-label': 'Demo agency' },
        h('strong', null, 'Development mode'),
        catalog ? h(Picker, { catalog: catalog, pick: pick, onPick: function (p) { choose(catalog, p); } })
          : h('span', null, 'Loading the demo agencies…'),
        h('span', { className: 'mandate-status', 'aria-live': 'polite' }, status),
        h('span', { className: 'mandate-note' },
          'Demo tokens (1 h) for made-up data; off unless auth.jwt.hs256_secret is set.'));
    } else if (MODE === 'credentials') {
      bar = h('div', { className: 'mandate-bar' },
        hasKey
          ? h('span', null, 'The headers of the Headers tab go with every request, the schema fetch first; kept for this browser session only.')
          : h('span', null, 'Type your credential in the Headers tab below — "x-api-key" (or "Authorization": "Bearer …"), with "x-mandate-purpose" and "x-mandate-case". Nothing is sent until then.'),
        hasKey ? h('button', {
          type: 'button',
          className: 'mandate-forget',
          onClick: function () {
            try { window.sessionStorage.clear(); } catch (e) { /* storage off */ }
            window.location.reload();
          }
        }, 'Forget') : null);
    }

    var props = {
      key: mount ? mount.key : 'page',
      fetcher: fetcher,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: MODE === 'open' ? false : 'headers',
      onEditHeaders: onEditHeaders
    };
    // `schema: null` keeps GraphiQL from fetching the schema; left out, it
    // fetches it with the fetcher above.
    if (!fetchSchema) props.schema = null;
    if (MODE === 'development') {
      props.storage = mount ? mount.storage : memoryStorage();
      props.shouldPersistHeaders = false;
      if (mount) {
        props.defaultTabs = mount.tabs;
        props.headers = mount.headers;
        // GraphiQL fills the editors of the first tab from these props, not from the tab.
        if (mount.tabs[0].variables) props.variables = mount.tabs[0].variables;
      } else {
        props.defaultQuery = '# Pick a demo agency above: its example operations open here.\n';
      }
    } else if (MODE === 'credentials') {
      // Queries and headers stay in this browser session only.
      props.storage = window.sessionStorage;
      props.shouldPersistHeaders = true;
      props.defaultQuery = DEFAULT_QUERY;
      props.defaultHeaders = initialHeaders;
    } else {
      props.defaultQuery = DEFAULT_QUERY;
      props.shouldPersistHeaders = false;
    }

    return h('div', { className: 'mandate-app' },
      bar || null,
      h('div', { className: 'mandate-graphiql' }, h(GraphiQL, props)));
  }

  root.textContent = '';
  if (typeof ReactDOM.createRoot === 'function') {
    ReactDOM.createRoot(root).render(h(App));
  } else {
    ReactDOM.render(h(App), root);
  }
})();
