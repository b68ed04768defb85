-- A session binds a fingerprint of its user's password hash and role when
-- it starts; a change of either ends it. Sessions from before this
-- migration have none and so end (their users log in again once).
ALTER TABLE sessions ADD COLUMN credential TEXT NOT NULL DEFAULT '';
