package sdk

// Response is the body of every error and of message-only answers
// (`{"message","detail"?,"validations"?}`).
type Response struct {
	// Message is a human-readable summary; never empty.
	Message string `json:"message"`
	// Detail is optional extra information for debugging.
	Detail string `json:"detail,omitempty"`
	// Validations lists per-field problems with the request.
	Validations []ValidationError `json:"validations,omitempty"`
}

// ValidationError names a request field (by its JSON name) and what is wrong
// with it.
type ValidationError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}
