// Package actorsys is the root of the actor system's plumbing: pieces the
// actors run on that are not actors themselves. Its subpackages:
//
//   - dispatch: the worker-pool dispatcher the busy actors' mailboxes run on;
//   - ticker: a periodic message to an actor, for paced background work.
//
// Nothing here decides anything about the store; the actors (package
// actors/...) use these, and the pure packages never do.
package actorsys
