// Package ticker gives actors a periodic message. protoactor's receive
// timeout resets on every message, so it cannot pace background work such
// as gossip, hint delivery or anti-entropy; a plain ticker goroutine can.
//
// Start it on *actor.Started and stop it on both *actor.Stopping and
// *actor.Restarting: a supervisor restart builds a new actor instance,
// which starts a ticker of its own.
package ticker
