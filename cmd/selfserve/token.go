package main

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// runToken prints an operator token signed with the data dir's key, without a
// running server. User tokens come from the directory (:issueToken), which
// puts the user's stored roles in them.
func runToken(args []string, stdout, stderr io.Writer) error {
	f := newFlags("token", stderr)
	f.dataDir()
	f.BoolVar(&f.cfg.Operator, "operator", false, "sign an operator token (required)")
	f.DurationVar(&f.cfg.TTL, "ttl", 24*time.Hour, "lifetime of the token")
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	if !cfg.Operator {
		return errors.New("token: only --operator tokens are made offline; user tokens come from POST /v1/organizations/{org}/users/{user}:issueToken")
	}
	if cfg.TTL < time.Minute || cfg.TTL > 30*24*time.Hour {
		return errors.New("token: --ttl must be from 1m to 720h")
	}
	signer, err := cfg.signer()
	if err != nil {
		return err
	}
	tok, err := signer.OperatorToken(cfg.TTL)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
