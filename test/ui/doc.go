// Package ui tests the web dashboard (the module's ui package, served at
// /ui) in a real browser: headless Chromium driven over the Chrome DevTools
// Protocol (chromedp) against a cluster of real dhtd processes
// (test/process).
//
// It is a module of its own, so that the server's go.mod does not carry
// chromedp and `make test` needs no browser. `make ui-test` runs it with the
// dhtd that `make build` puts in ./bin (process.BinaryEnv); without that
// variable test/process builds one. Chromium is found as $CHROME, else
// chromium or google-chrome on PATH; without one the test is skipped, or
// fails when $CI is set.
//
// Screenshots go to screenshots/ beside the test (ignored by git). The
// README's picture, docs/img/ui.png, is one of them copied by hand.
package ui
