"""The engineer in the field, on a phone (phases 2-5, 9): my jobs today and each job's next step."""
