-- The case database as Safenet's schema version 6 (the previous release) created it: SQLite DDL, frozen
-- from that release's models (safenet/case/schema.py with SCHEMA_VERSION = 6) for tests/case/test_migrations.py.
CREATE TABLE case_fields (
	id INTEGER NOT NULL,
	exhibit VARCHAR(200),
	field VARCHAR(60) NOT NULL,
	value TEXT NOT NULL,
	user VARCHAR(200) NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE exhibits (
	id INTEGER NOT NULL,
	label VARCHAR(200) NOT NULL,
	source TEXT NOT NULL,
	backend VARCHAR(40) NOT NULL,
	description_json TEXT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (label)
);
CREATE TABLE meta (
	"key" VARCHAR(64) NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY ("key")
);
CREATE TABLE runs (
	id INTEGER NOT NULL,
	exhibit_id INTEGER NOT NULL,
	resumed_from INTEGER,
	status VARCHAR(40) NOT NULL,
	profile VARCHAR(20) NOT NULL,
	tool_version VARCHAR(40) NOT NULL,
	operator VARCHAR(200) NOT NULL,
	host VARCHAR(200) NOT NULL,
	started_at DATETIME NOT NULL,
	ended_at DATETIME,
	config_json TEXT NOT NULL,
	hashsets_json TEXT NOT NULL,
	items_planned INTEGER NOT NULL,
	items_not_reached INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(exhibit_id) REFERENCES exhibits (id),
	FOREIGN KEY(resumed_from) REFERENCES runs (id)
);
CREATE TABLE items (
	id INTEGER NOT NULL,
	exhibit_id INTEGER NOT NULL,
	run_id INTEGER NOT NULL,
	parent_id INTEGER,
	locator TEXT NOT NULL,
	display TEXT NOT NULL,
	name TEXT NOT NULL,
	size BIGINT,
	modified DATETIME,
	accessed DATETIME,
	changed DATETIME,
	created DATETIME,
	time_source VARCHAR(20),
	time_zone_known BOOLEAN NOT NULL,
	deleted BOOLEAN NOT NULL,
	carved BOOLEAN NOT NULL,
	filetype VARCHAR(20) NOT NULL,
	media_kind VARCHAR(20) NOT NULL,
	extension_mismatch BOOLEAN NOT NULL,
	status VARCHAR(20) NOT NULL,
	md5 VARCHAR(32),
	sha1 VARCHAR(40),
	sha256 VARCHAR(64),
	note TEXT,
	pdq VARCHAR(64),
	pdq_quality INTEGER,
	pdq_low_quality TEXT,
	video_duration_s FLOAT,
	video_codec VARCHAR(40),
	video_width INTEGER,
	video_height INTEGER,
	PRIMARY KEY (id),
	CONSTRAINT uq_item_locator UNIQUE (exhibit_id, locator),
	FOREIGN KEY(exhibit_id) REFERENCES exhibits (id),
	FOREIGN KEY(run_id) REFERENCES runs (id),
	FOREIGN KEY(parent_id) REFERENCES items (id)
);
CREATE INDEX ix_items_exhibit_id ON items (exhibit_id);
CREATE INDEX ix_items_md5 ON items (md5);
CREATE TABLE warnings (
	id INTEGER NOT NULL,
	run_id INTEGER NOT NULL,
	exhibit_id INTEGER NOT NULL,
	code VARCHAR(40) NOT NULL,
	message TEXT NOT NULL,
	locator TEXT,
	display TEXT,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES runs (id),
	FOREIGN KEY(exhibit_id) REFERENCES exhibits (id)
);
CREATE INDEX ix_warnings_run_id ON warnings (run_id);
CREATE TABLE cluster_edits (
	id INTEGER NOT NULL,
	action VARCHAR(10) NOT NULL,
	item_id INTEGER NOT NULL,
	other_item_id INTEGER,
	user VARCHAR(200) NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(item_id) REFERENCES items (id),
	FOREIGN KEY(other_item_id) REFERENCES items (id)
);
CREATE INDEX ix_cluster_edits_item_id ON cluster_edits (item_id);
CREATE TABLE clusters (
	item_id INTEGER NOT NULL,
	cluster INTEGER NOT NULL,
	threshold INTEGER NOT NULL,
	built_at DATETIME NOT NULL,
	PRIMARY KEY (item_id),
	FOREIGN KEY(item_id) REFERENCES items (id)
);
CREATE INDEX ix_clusters_cluster ON clusters (cluster);
CREATE TABLE findings (
	id INTEGER NOT NULL,
	item_id INTEGER NOT NULL,
	run_id INTEGER NOT NULL,
	hashset VARCHAR(200) NOT NULL,
	hashset_sha256 VARCHAR(64) NOT NULL,
	set_kind VARCHAR(20) NOT NULL,
	hash_kind VARCHAR(20) NOT NULL,
	match_kind VARCHAR(20) NOT NULL,
	category VARCHAR(40) NOT NULL,
	category_raw VARCHAR(40),
	scheme VARCHAR(40) NOT NULL,
	entry BIGINT NOT NULL,
	distance INTEGER,
	orientation VARCHAR(20),
	trimmed BOOLEAN,
	frames TEXT,
	PRIMARY KEY (id),
	CONSTRAINT uq_finding UNIQUE (item_id, hashset, hash_kind, entry),
	FOREIGN KEY(item_id) REFERENCES items (id),
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE INDEX ix_findings_item_id ON findings (item_id);
CREATE INDEX ix_findings_kind ON findings (set_kind, category);
CREATE TABLE item_notes (
	id INTEGER NOT NULL,
	item_id INTEGER NOT NULL,
	user VARCHAR(200) NOT NULL,
	at DATETIME NOT NULL,
	text TEXT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(item_id) REFERENCES items (id)
);
CREATE INDEX ix_item_notes_item_id ON item_notes (item_id);
CREATE TABLE item_tags (
	id INTEGER NOT NULL,
	item_id INTEGER NOT NULL,
	tag VARCHAR(60) NOT NULL,
	user VARCHAR(200) NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_item_tag UNIQUE (item_id, tag),
	FOREIGN KEY(item_id) REFERENCES items (id)
);
CREATE INDEX ix_item_tags_item_id ON item_tags (item_id);
CREATE TABLE reveals (
	id INTEGER NOT NULL,
	item_id INTEGER NOT NULL,
	user VARCHAR(200) NOT NULL,
	role VARCHAR(20) NOT NULL,
	step VARCHAR(20) NOT NULL,
	frame INTEGER,
	at DATETIME NOT NULL,
	closed_at DATETIME,
	close_reason VARCHAR(20),
	PRIMARY KEY (id),
	FOREIGN KEY(item_id) REFERENCES items (id)
);
CREATE INDEX ix_reveals_item_id ON reveals (item_id);
CREATE TABLE gradings (
	id INTEGER NOT NULL,
	item_id INTEGER NOT NULL,
	grade VARCHAR(20) NOT NULL,
	examiner VARCHAR(200) NOT NULL,
	at DATETIME NOT NULL,
	confirmed_by VARCHAR(200),
	confirmed_at DATETIME,
	undo_of INTEGER,
	confirm_reveal_id INTEGER,
	frames TEXT,
	PRIMARY KEY (id),
	FOREIGN KEY(item_id) REFERENCES items (id),
	FOREIGN KEY(undo_of) REFERENCES gradings (id),
	FOREIGN KEY(confirm_reveal_id) REFERENCES reveals (id)
);
CREATE INDEX ix_gradings_item_id ON gradings (item_id);
