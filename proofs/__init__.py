"""Z3 encodings of the model: induction, bounded model checking and liveness proofs."""
