/*
 * NormCourse: make ipywidgets work in jupyterlab-rise slides (the /rise/<notebook> page).
 *
 * Why: jupyterlab-rise 0.43.1 serves its own small JupyterLab app whose core bundle puts only part of
 * @jupyterlab/* into the webpack share scope; @jupyterlab/console is not among them. The ipywidgets
 * lab extension (@jupyter-widgets/jupyterlab-manager 5.0.x, from jupyterlab_widgets 3.0.x) consumes
 * @jupyterlab/console as a host-provided singleton (import: false) for its *optional* IConsoleTracker,
 * so loading its ./extension module throws "Shared module @jupyterlab/console doesn't exist in shared
 * scope default". Its plugin then never activates: no widget manager, no renderer for
 * application/vnd.jupyter.widget-view+json, "Exception opening new comm" for every widget, and each
 * explorer shows its text/plain repr (jupyterlab-contrib/rise#119, #126).
 *
 * What: a hand-written federated "extension" with no plugins. Its container's init() adds a stand-in
 * @jupyterlab/console to the share scope ONLY when nobody shares the real one (the RISE page). The
 * stand-in exports just the IConsoleTracker token; RISE has no consoles, so nothing provides that token
 * and the widget plugin receives null for it, exactly as it is written to handle. In JupyterLab itself
 * the real package is already shared, so this file does nothing there.
 *
 * Also, in RISE only: keys pressed on a focused widget control go to the control. The RISE app binds
 * JupyterLab's notebook shortcuts to any focused element of a command-mode notebook (ArrowRight ->
 * notebook:move-cursor-heading-below-or-expand, W -> RISE:toggleOverview, ...), and reveal.js turns
 * arrow keys into slide changes, so a focused slider could not be moved with the keyboard. Controls get
 * Lumino's data-lm-suppress-shortcuts when focused, and a slider handle keeps its navigation keys from
 * reveal.js. Space and the other keys still reach reveal.js, so the presenter moves on as usual.
 */
(function () {
  'use strict';
  var NAME = 'normcourse-rise-widgets';
  var SHARE_KEY = '@jupyterlab/console';
  var registry = (window._JUPYTERLAB = window._JUPYTERLAB || {});

  var SLIDER_KEYS = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'];
  var keysForWidgets = false;

  function giveKeysToWidgetControls() {
    if (keysForWidgets) {
      return;
    }
    keysForWidgets = true;
    // focusin comes before any keydown on the control, and Lumino checks the attribute per event.
    document.addEventListener('focusin', function (event) {
      var control = event.target;
      if (!control || !control.closest || !control.closest('.reveal .jupyter-widgets')
          || control.hasAttribute('data-lm-suppress-shortcuts')) {
        return;
      }
      control.setAttribute('data-lm-suppress-shortcuts', 'true');
      if (control.classList.contains('noUi-handle')) {
        // After noUiSlider's own listener (registered first on the same element) has moved the handle.
        control.addEventListener('keydown', function (keydown) {
          if (SLIDER_KEYS.indexOf(keydown.key) >= 0) {
            keydown.stopPropagation();
          }
        });
      }
    }, true);
  }

  registry[NAME] = {
    init: function (shareScope) {
      var versions = (shareScope[SHARE_KEY] = shareScope[SHARE_KEY] || {});
      if (Object.keys(versions).length > 0) {
        return;
      }
      // Shaped like a @lumino/coreutils Token: plugins and the registry only use it as an identity.
      var consoleStandIn = {
        IConsoleTracker: {
          name: SHARE_KEY + ':IConsoleTracker',
          description: 'Not provided in RISE slides (stand-in from ' + NAME + ').',
          _tokenStructuralPropertyT: null
        }
      };
      // The lowest version there is: any real @jupyterlab/console wins over it.
      versions['0.0.0'] = {
        get: function () {
          return Promise.resolve(function () { return consoleStandIn; });
        },
        from: NAME,
        eager: false
      };
      giveKeysToWidgetControls();
    },
    get: function (module) {
      return Promise.reject(new Error(NAME + ' exposes no module ' + module));
    }
  };
})();
