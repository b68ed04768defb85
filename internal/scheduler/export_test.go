package scheduler

// Rendezvous is replica's score for job: the live replica with the highest
// score is the one that prefers it.
var Rendezvous = rendezvous
