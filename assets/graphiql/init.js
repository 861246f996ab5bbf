// Boots the vendored GraphiQL (UMD build; globals React, ReactDOM, GraphiQL)
// into #graphiql. Loaded as an external script so the page works under a CSP
// without 'unsafe-inline' / 'unsafe-eval' for scripts.
(function () {
  'use strict';

  var ENDPOINT = '/graphql';
  var DEFAULT_QUERY =
    '# Request headers: "Headers" tab below (not saved).\n' +
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

  var root = document.getElementById('graphiql');

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

  // POSTs the operation as JSON to the same-origin GraphQL endpoint. Headers
  // typed into GraphiQL's headers editor are sent too (and may override the
  // defaults; Headers#set is case-insensitive so there are no duplicates).
  function fetcher(graphQLParams, opts) {
    var headers = new Headers({
      'content-type': 'application/json',
      'accept': 'application/graphql-response+json, application/json'
    });
    var extra = opts && opts.headers;
    if (extra && typeof extra === 'object') {
      Object.keys(extra).forEach(function (name) {
        var value = extra[name];
        if (value !== undefined && value !== null) headers.set(name, String(value));
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
  }

  var element = React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: DEFAULT_QUERY,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false
  });

  root.textContent = '';
  if (typeof ReactDOM.createRoot === 'function') {
    ReactDOM.createRoot(root).render(element);
  } else {
    ReactDOM.render(element, root);
  }
})();
