package api

// EventsSince exposes Events.since to the tests.
func EventsSince(e *Events, id uint64) ([]Event, bool, <-chan struct{}, bool) { return e.since(id) }
