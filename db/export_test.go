package db

// WorkspaceListSQL returns the page query ListWorkspaces runs for f and its
// arguments ($1, $2…; none when the query is sent with its values inline).
func WorkspaceListSQL(s *Store, f WorkspaceListFilter) (string, []any) {
	args := &listArgs{inline: len(f.Params) > 0}
	q := s.workspaceListQuery(f, args)
	return args.text(q, f.Limit, f.Offset), args.vals
}

// SetMaxPrepared bounds the statements s keeps prepared.
func SetMaxPrepared(s *Store, n int) {
	s.prep.mu.Lock()
	defer s.prep.mu.Unlock()
	s.prep.max = n
}

// PreparedCount is how many statements s keeps prepared.
func PreparedCount(s *Store) int {
	s.prep.mu.Lock()
	defer s.prep.mu.Unlock()
	return len(s.prep.stmts)
}
