package db

import "github.com/google/uuid"

// NormalizeTags applies Coder's tag rules to a job's or a daemon's tags:
// empty values are dropped; a missing or unknown scope becomes
// organization with an empty owner; scope=user keeps its owner, which is
// the initiator's ID when the tags are a job's (initiator valid).
func NormalizeTags(in map[string]string, initiator uuid.NullUUID) map[string]string {
	out := make(map[string]string, len(in)+2)
	for k, v := range in {
		if v != "" {
			out[k] = v
		}
	}
	if out["scope"] != "user" {
		out["scope"] = "organization"
		out["owner"] = ""
	} else if initiator.Valid {
		out["owner"] = initiator.UUID.String()
	}
	return out
}
