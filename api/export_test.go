package api

// WatchReads is how many times a's watch feeds read a workspace.
func WatchReads(a *API) int64 { return a.watches.reads.Load() }
