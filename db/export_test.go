package db

// WorkspaceListSQL returns the page query ListWorkspaces runs for f and its
// arguments ($1, $2…; none when the query is sent with its values inline).
func WorkspaceListSQL(s *Store, f WorkspaceListFilter) (string, []any) {
	args := &listArgs{inline: len(f.Params) > 0}
	q := s.workspaceListQuery(f, args)
	return args.text(q, f.Limit, f.Offset), args.vals
}
