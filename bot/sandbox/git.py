"""Bare git repositories under the state dir, driven through git plumbing (no work trees)."""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

NULL_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


_T = TypeVar("_T")


class _Answers(Generic[_T]):
    """Answers about shas alone, which never change; forgotten all at once past a size."""

    def __init__(self, limit: int = 10_000) -> None:
        self._answers: dict[tuple[object, ...], _T] = {}
        self._limit = limit

    def __contains__(self, key: tuple[object, ...]) -> bool:
        return key in self._answers

    def __getitem__(self, key: tuple[object, ...]) -> _T:
        return self._answers[key]

    def remember(self, key: tuple[object, ...], value: _T) -> None:
        if len(self._answers) >= self._limit:
            self._answers.clear()
        self._answers[key] = value


class GitError(Exception):
    """git refused: the command, its exit status and what it said."""

    def __init__(self, args: tuple[str, ...], status: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:3])} exited {status}: {stderr.strip()[:500]}")
        self.status = status
        self.stderr = stderr


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: str  # ISO 8601, "2024-05-01T12:00:00Z"

    def git_env(self, role: str) -> dict[str, str]:
        return {
            f"GIT_{role}_NAME": self.name,
            f"GIT_{role}_EMAIL": self.email,
            f"GIT_{role}_DATE": iso_to_git(self.date),
        }


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str  # blob | tree | commit
    sha: str
    path: str
    size: int | None = None


@dataclass(frozen=True)
class ChangedFile:
    filename: str
    status: str  # added | removed | modified | renamed
    additions: int
    deletions: int
    sha: str | None  # blob sha after (None when removed)
    previous_filename: str | None = None
    patch: str | None = None
    binary: bool = False


@dataclass(frozen=True)
class MergeOutcome:
    tree: str
    clean: bool
    conflicts: tuple[str, ...] = field(default_factory=tuple)


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_to_git(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset() or (moment - moment)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{int(moment.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def git_to_iso(stamp: str) -> str:
    seconds, _, _zone = stamp.partition(" ")
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_sha(value: str) -> bool:
    return bool(_SHA.match(value or ""))


def valid_ref_name(ref: str) -> bool:
    """git check-ref-format's rules, checked without a subprocess (refs/... form)."""
    if not ref.startswith("refs/") or ref.endswith("/") or ref.endswith(".lock") or ref.endswith("."):
        return False
    if ".." in ref or "//" in ref or "@{" in ref or ref == "refs/":
        return False
    if any(ord(c) < 0x21 or c in "~^:?*[\\\x7f" for c in ref):
        return False
    return all(part and not part.startswith(".") for part in ref.split("/"))


def _parse_person(line: str) -> Person:
    # "Name <email> 1700000000 +0000"
    name, _, rest = line.partition(" <")
    email, _, stamp = rest.partition("> ")
    return Person(name=name, email=email, date=git_to_iso(stamp))


def parse_commit(sha: str, raw: bytes) -> Commit:
    header, _, message = raw.decode("utf-8", errors="replace").partition("\n\n")
    tree, parents, author, committer = "", [], None, None
    for line in header.split("\n"):
        key, _, value = line.partition(" ")
        if key == "tree":
            tree = value
        elif key == "parent":
            parents.append(value)
        elif key == "author":
            author = _parse_person(value)
        elif key == "committer":
            committer = _parse_person(value)
    assert author is not None and committer is not None
    return Commit(sha=sha, tree=tree, parents=tuple(parents), author=author, committer=committer, message=message)


class GitRepos:
    """One bare repository per sandbox repository, with per-repository write locks."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, asyncio.Lock] = {}
        self._commits: dict[tuple[str, str], Commit] = {}  # commits never change: (repository, sha) is a safe key
        self._types: dict[tuple[str, str], str] = {}  # nor do object types
        # Every ref write goes through this class, so a repository's refs are read once and
        # forgotten on each write; reads between writes cost no process.
        self._refs: dict[str, list[tuple[str, str, str]]] = {}
        self._ref_generation: dict[str, int] = {}  # bumped around each ref write, so a read that raced one is not kept
        self._trees: _Answers[tuple[TreeEntry, ...]] = _Answers()
        self._ancestry: _Answers[bool] = _Answers()
        self._bases: _Answers[str | None] = _Answers()
        self._revs: _Answers[tuple[str, ...]] = _Answers()
        self._merges: _Answers[MergeOutcome] = _Answers()
        self._diffs: _Answers[tuple[ChangedFile, ...]] = _Answers()
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "sandbox",
            "GIT_AUTHOR_EMAIL": "sandbox@localhost",
            "GIT_COMMITTER_NAME": "sandbox",
            "GIT_COMMITTER_EMAIL": "sandbox@localhost",
        }

    # paths and processes -------------------------------------------------------------------
    def path(self, full_name: str) -> Path:
        owner, _, name = full_name.partition("/")
        if not _NAME.match(owner) or not _NAME.match(name) or owner.startswith(".") or name.startswith("."):
            raise ValueError(f"not a repository name: {full_name!r}")
        return self.root / owner.lower() / f"{name.lower()}.git"

    def lock(self, full_name: str) -> asyncio.Lock:
        """Held by every write that reads-then-moves a ref of this repository."""
        return self._locks.setdefault(full_name.lower(), asyncio.Lock())

    async def run(
        self,
        full_name: str,
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,),
    ) -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**self._env, "GIT_DIR": str(self.path(full_name)), **(env or {})},
            cwd=str(self.root),
        )
        out, err = await process.communicate(stdin)
        status = process.returncode or 0
        if status not in ok:
            raise GitError(args, status, err.decode(errors="replace"))
        return status, out

    async def out(
        self, full_name: str, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> str:
        _, raw = await self.run(full_name, *args, stdin=stdin, env=env)
        return raw.decode("utf-8", errors="replace")

    # repositories --------------------------------------------------------------------------
    async def init(self, full_name: str, default_branch: str = "main") -> None:
        path = self.path(full_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            await self.run(full_name, "init", "--bare", "--quiet", f"--initial-branch={default_branch}", str(path))

    async def set_head(self, full_name: str, branch: str) -> None:
        await self.run(full_name, "symbolic-ref", "HEAD", f"refs/heads/{branch}")

    # objects -------------------------------------------------------------------------------
    async def write_blob(self, full_name: str, content: bytes) -> str:
        sha = (await self.out(full_name, "hash-object", "-w", "--stdin", stdin=content)).strip()
        self._types[(full_name.lower(), sha)] = "blob"
        return sha

    async def object_type(self, full_name: str, sha: str) -> str | None:
        if not is_sha(sha):
            return None
        key = (full_name.lower(), sha)
        known = self._types.get(key)
        if known is not None:
            return known
        status, raw = await self.run(full_name, "cat-file", "-t", sha, ok=(0, 1, 128))
        if status != 0:
            return None
        self._types[key] = raw.decode().strip()
        return self._types[key]

    async def peel_commit(self, full_name: str, sha: str) -> str | None:
        """The commit an object names: itself, or what an annotated tag points at."""
        for _ in range(10):
            kind = await self.object_type(full_name, sha)
            if kind == "commit":
                return sha
            if kind != "tag":
                return None
            fields = await self.read_tag(full_name, sha)
            if fields is None:
                return None
            sha = fields["object"]
        return None

    async def read_blob(self, full_name: str, sha: str) -> bytes | None:
        if await self.object_type(full_name, sha) != "blob":
            return None
        _, raw = await self.run(full_name, "cat-file", "blob", sha)
        return raw

    async def read_commit(self, full_name: str, sha: str) -> Commit | None:
        cached = self._commits.get((full_name.lower(), sha))
        if cached is not None:
            return cached
        if not is_sha(sha):
            return None
        status, raw = await self.run(full_name, "cat-file", "commit", sha, ok=(0, 128))
        if status != 0:
            return None
        commit = parse_commit(sha, raw)
        self._commits[(full_name.lower(), sha)] = commit
        return commit

    async def tree_of(self, full_name: str, sha: str) -> str:
        """The tree of a commit known to exist (a branch head, say); GitError when it does not."""
        commit = await self.read_commit(full_name, sha)
        if commit is None:
            raise GitError(("cat-file", "commit", sha), 128, f"{sha} is not a commit")
        return commit.tree

    async def read_commits(self, full_name: str, shas: list[str]) -> list[Commit]:
        repo_key = full_name.lower()
        missing = [s for s in dict.fromkeys(shas) if (repo_key, s) not in self._commits and is_sha(s)]
        if missing:
            _, raw = await self.run(full_name, "cat-file", "--batch", stdin=("\n".join(missing) + "\n").encode())
            pos = 0
            for _sha in missing:
                end = raw.index(b"\n", pos)
                parts = raw[pos:end].decode().split(" ")
                if len(parts) != 3:  # "<name> missing"
                    pos = end + 1
                    continue
                got, kind, size = parts
                body = raw[end + 1 : end + 1 + int(size)]
                pos = end + 1 + int(size) + 1
                if kind == "commit":
                    self._commits[(repo_key, got)] = parse_commit(got, body)
        return [self._commits[(repo_key, s)] for s in shas if (repo_key, s) in self._commits]

    async def read_tag(self, full_name: str, sha: str) -> dict[str, str] | None:
        if await self.object_type(full_name, sha) != "tag":
            return None
        raw = await self.out(full_name, "cat-file", "tag", sha)
        header, _, message = raw.partition("\n\n")
        fields: dict[str, str] = {"message": message}
        for line in header.split("\n"):
            key, _, value = line.partition(" ")
            fields[key] = value
        return fields

    async def write_tag(
        self, full_name: str, *, tag: str, object_sha: str, object_type: str, tagger: Person, message: str
    ) -> str:
        body = (
            f"object {object_sha}\ntype {object_type}\ntag {tag}\n"
            f"tagger {tagger.name} <{tagger.email}> {iso_to_git(tagger.date)}\n\n{message}"
        )
        sha = (await self.out(full_name, "hash-object", "-t", "tag", "-w", "--stdin", stdin=body.encode())).strip()
        self._types[(full_name.lower(), sha)] = "tag"
        return sha

    async def commit_tree(
        self,
        full_name: str,
        tree: str,
        parents: list[str] | tuple[str, ...],
        message: str,
        *,
        author: Person,
        committer: Person,
    ) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {**author.git_env("AUTHOR"), **committer.git_env("COMMITTER")}
        sha = (await self.out(full_name, *args, stdin=message.encode(), env=env)).strip()
        self._types[(full_name.lower(), sha)] = "commit"
        return sha

    # trees ---------------------------------------------------------------------------------
    async def ls_tree(
        self, full_name: str, treeish: str, *, recursive: bool = False, path: str | None = None
    ) -> list[TreeEntry]:
        key = ("ls-tree", full_name.lower(), treeish, recursive, path)
        if is_sha(treeish) and key in self._trees:
            return list(self._trees[key])
        args = ["ls-tree", "-l", "-z"]
        if recursive:
            args += ["-r", "-t"]
        args.append(treeish)
        if path is not None:
            args += ["--", path]
        status, raw = await self.run(full_name, *args, ok=(0, 128))
        if status != 0:
            return []
        entries = []
        for record in raw.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, kind, sha, size = meta.decode().split(None, 3)
            entries.append(
                TreeEntry(
                    mode, kind, sha, name.decode("utf-8", errors="replace"), None if size.strip() == "-" else int(size)
                )
            )
        if is_sha(treeish):
            self._trees.remember(key, tuple(entries))
        return entries

    async def entry_at(self, full_name: str, treeish: str, path: str) -> TreeEntry | None:
        """The tree entry at path (a file or a directory), or None."""
        path = path.strip("/")
        if not path:
            commit = await self.read_commit(full_name, treeish) if is_sha(treeish) else None
            tree_sha = commit.tree if commit else await self.resolve(full_name, f"{treeish}^{{tree}}")
            return TreeEntry("040000", "tree", tree_sha, "", None) if tree_sha else None
        entries = await self.ls_tree(full_name, treeish, path=path)
        for entry in entries:
            if entry.path == path:
                return entry
        return None

    async def mktree(self, full_name: str, entries: list[TreeEntry]) -> str:
        lines = "".join(f"{e.mode} {e.type} {e.sha}\t{e.path}\0" for e in entries)
        sha = (await self.out(full_name, "mktree", "-z", stdin=lines.encode())).strip()
        self._types[(full_name.lower(), sha)] = "tree"
        return sha

    async def write_tree(self, full_name: str, base_tree: str | None, changes: dict[str, TreeEntry | None]) -> str:
        """A new tree: base_tree with each path set to an entry (mode/type/sha) or removed (None)."""
        here: dict[str, TreeEntry | None] = {}
        below: dict[str, dict[str, TreeEntry | None]] = {}
        for path, entry in changes.items():
            head, sep, rest = path.strip("/").partition("/")
            if sep:
                below.setdefault(head, {})[rest] = entry
            else:
                here[head] = entry
        current = {e.path: e for e in await self.ls_tree(full_name, base_tree)} if base_tree else {}
        for name, entry in here.items():
            if entry is None:
                current.pop(name, None)
            else:
                current[name] = TreeEntry(entry.mode, entry.type, entry.sha, name)
        for name, sub_changes in below.items():
            existing = current.get(name)
            sub_base = existing.sha if existing is not None and existing.type == "tree" else None
            sub_tree = await self.write_tree(full_name, sub_base, sub_changes)
            if sub_tree == EMPTY_TREE:
                current.pop(name, None)
            else:
                current[name] = TreeEntry("040000", "tree", sub_tree, name)
        return await self.mktree(full_name, list(current.values()))

    # refs ----------------------------------------------------------------------------------
    async def resolve(self, full_name: str, rev: str) -> str | None:
        """The object a ref, sha or rev names, or None. Never lets user text become an option."""
        if not rev or rev.startswith("-") or any(ord(c) < 0x20 for c in rev):
            return None
        status, raw = await self.run(
            full_name, "rev-parse", "--verify", "--quiet", "--end-of-options", rev, ok=(0, 1, 128)
        )
        return raw.decode().strip() if status == 0 else None

    async def resolve_commit(self, full_name: str, rev: str) -> str | None:
        """A branch name, tag name, full ref or sha as a commit sha (as GitHub's {ref} parameters)."""
        if not rev or rev.startswith("-"):
            return None
        candidates = [rev] if rev.startswith("refs/") else [f"refs/heads/{rev}", f"refs/tags/{rev}"]
        for candidate in candidates:
            sha = await self.ref(full_name, candidate)
            if sha:
                return await self.peel_commit(full_name, sha)
        if rev.startswith("refs/"):
            return None
        if is_sha(rev):
            return await self.peel_commit(full_name, rev)
        return await self.resolve(full_name, f"{rev}^{{commit}}")

    async def ref(self, full_name: str, ref: str) -> str | None:
        if not valid_ref_name(ref):
            return None
        for name, sha, _ in await self.refs(full_name, ref):
            if name == ref:
                return sha
        return None

    async def refs(self, full_name: str, prefix: str = "refs/") -> list[tuple[str, str, str]]:
        """(ref, sha, object type) for refs starting with prefix (a plain string prefix, as matching-refs)."""
        key = full_name.lower()
        every = self._refs.get(key)
        if every is None:
            generation = self._ref_generation.get(key, 0)
            raw = await self.out(full_name, "for-each-ref", "--format=%(refname)%00%(objectname)%00%(objecttype)")
            every = []
            for line in raw.splitlines():
                ref, sha, kind = line.split("\0", 2)
                every.append((ref, sha, kind))
            if self._ref_generation.get(key, 0) == generation:  # no write began meanwhile, so this is current
                self._refs[key] = every
        return [entry for entry in every if entry[0].startswith(prefix)]

    def _refs_changing(self, full_name: str) -> None:
        key = full_name.lower()
        self._ref_generation[key] = self._ref_generation.get(key, 0) + 1
        self._refs.pop(key, None)

    async def update_ref(self, full_name: str, ref: str, new: str, old: str | None) -> bool:
        """Move ref to new only if it still points at old (NULL_SHA: must not exist). False when it moved."""
        args = ["update-ref", ref, new] + ([old] if old is not None else [])
        self._refs_changing(full_name)
        status, _ = await self.run(full_name, *args, ok=(0, 1, 128))
        self._refs_changing(full_name)
        return status == 0

    async def delete_ref(self, full_name: str, ref: str, old: str) -> bool:
        self._refs_changing(full_name)
        status, _ = await self.run(full_name, "update-ref", "-d", ref, old, ok=(0, 1, 128))
        self._refs_changing(full_name)
        return status == 0

    # history -------------------------------------------------------------------------------
    async def is_ancestor(self, full_name: str, ancestor: str, descendant: str) -> bool:
        key = ("is-ancestor", full_name.lower(), ancestor, descendant)
        if key not in self._ancestry:
            status, _ = await self.run(full_name, "merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1))
            if not (is_sha(ancestor) and is_sha(descendant)):
                return status == 0
            self._ancestry.remember(key, status == 0)
        return self._ancestry[key]

    async def merge_base(self, full_name: str, a: str, b: str) -> str | None:
        key = ("merge-base", full_name.lower(), a, b)
        if key not in self._bases:
            status, raw = await self.run(full_name, "merge-base", a, b, ok=(0, 1))
            found = raw.decode().strip() if status == 0 else None
            if not (is_sha(a) and is_sha(b)):
                return found
            self._bases.remember(key, found)
        return self._bases[key]

    async def rev_list(
        self,
        full_name: str,
        include: str,
        exclude: str | None = None,
        *,
        reverse: bool = False,
        limit: int | None = None,
        skip: int = 0,
        first_parent: bool = False,
    ) -> list[str]:
        key = ("rev-list", full_name.lower(), include, exclude, reverse, limit, skip, first_parent)
        immutable = is_sha(include) and (exclude is None or is_sha(exclude))
        if immutable and key in self._revs:
            return list(self._revs[key])
        args = ["rev-list"]
        if reverse:
            args.append("--reverse")
        if first_parent:
            args.append("--first-parent")
        if limit is not None:
            args.append(f"--max-count={limit}")
        if skip:
            args.append(f"--skip={skip}")
        args.append(include)
        if exclude:
            args.append(f"^{exclude}")
        shas = (await self.out(full_name, *args)).split()
        if immutable:
            self._revs.remember(key, tuple(shas))
        return shas

    async def count(self, full_name: str, include: str, exclude: str | None = None) -> int:
        args = ["rev-list", "--count", include] + ([f"^{exclude}"] if exclude else [])
        return int((await self.out(full_name, *args)).strip())

    # merging -------------------------------------------------------------------------------
    async def merge_trees(self, full_name: str, ours: str, theirs: str) -> MergeOutcome:
        """git merge-tree --write-tree: the merged tree, and whether it merged cleanly."""
        key = ("merge-tree", full_name.lower(), ours, theirs)
        if key in self._merges:
            return self._merges[key]
        status, raw = await self.run(
            full_name, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs, ok=(0, 1, 128)
        )
        if status == 128:  # unrelated histories: git refuses, and so does GitHub
            return MergeOutcome(tree="", clean=False, conflicts=())
        parts = raw.decode("utf-8", errors="replace").split("\0")
        tree = parts[0].strip()
        conflicts = tuple(p for p in parts[1:] if p)
        outcome = MergeOutcome(tree=tree, clean=status == 0, conflicts=conflicts)
        if is_sha(ours) and is_sha(theirs):
            self._merges.remember(key, outcome)
        return outcome

    async def cherry_pick_tree(self, full_name: str, onto: str, picked: str, *, committer: Person) -> MergeOutcome:
        """The tree `git cherry-pick picked` gives on top of onto, by the sibling-commit method.

        A sibling of picked (onto's tree, picked's first parent) merged with picked has exactly
        picked's parent as merge base, which merge-tree on git 2.39 cannot be told directly.
        """
        target = await self.read_commit(full_name, onto)
        source = await self.read_commit(full_name, picked)
        assert target is not None and source is not None
        parents = source.parents[:1]
        if not parents:
            # A root commit: the base is the empty tree, so the sibling has no parent either.
            empty_root = await self.commit_tree(
                full_name, EMPTY_TREE, [], "empty", author=committer, committer=committer
            )
            sibling = await self.commit_tree(
                full_name, target.tree, [empty_root], "sibling", author=committer, committer=committer
            )
            reparented = await self.commit_tree(
                full_name, source.tree, [empty_root], "picked", author=committer, committer=committer
            )
            return await self.merge_trees(full_name, sibling, reparented)
        sibling = await self.commit_tree(
            full_name, target.tree, list(parents), "sibling", author=committer, committer=committer
        )
        return await self.merge_trees(full_name, sibling, picked)

    # diffs ---------------------------------------------------------------------------------
    async def unified_diff(self, full_name: str, old: str | None, new: str) -> bytes:
        """The diff from old to new (None = the empty tree), as GitHub's diff media type answers it."""
        _, raw = await self.run(full_name, "diff-tree", "-r", "-p", "-M", "--no-commit-id", old or EMPTY_TREE, new)
        return raw

    async def format_patch(self, full_name: str, base: str | None, head: str) -> bytes:
        """The commits after base up to head as mail patches (`git format-patch`), GitHub's patch media type."""
        revision = f"{base}..{head}" if base else head
        extra = () if base else ("--root",)
        _, raw = await self.run(full_name, "format-patch", "--stdout", "--no-signature", *extra, revision)
        return raw

    async def diff(self, full_name: str, old: str | None, new: str, *, patches: bool = True) -> list[ChangedFile]:
        """Files changed from old to new (trees or commits; old None = the empty tree), as GitHub lists them."""
        old = old or EMPTY_TREE
        key = ("diff", full_name.lower(), old, new, patches)
        if is_sha(old) and is_sha(new) and key in self._diffs:
            return list(self._diffs[key])
        raw_status = await self.out(
            full_name, "diff-tree", "-r", "-z", "--no-commit-id", "-M", "--raw", "--numstat", old, new
        )
        tokens = raw_status.split("\0")
        statuses: list[tuple[str, str, str, str | None]] = []  # letter, path, blob sha after, path before a rename
        numbers: dict[str, tuple[int, int, bool]] = {}
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.startswith(":"):
                meta = token[1:].split()
                letter = meta[4][0]
                if letter in "RC":
                    statuses.append((letter, tokens[i + 2], meta[3], tokens[i + 1]))
                    i += 3
                else:
                    statuses.append((letter, tokens[i + 1], meta[3], None))
                    i += 2
            elif token:
                added, deleted, path = token.split("\t", 2)
                step = 1
                if not path:  # a rename: the two paths follow
                    path, step = tokens[i + 2], 3
                binary = added == "-"
                numbers[path] = (0 if binary else int(added), 0 if binary else int(deleted), binary)
                i += step
            else:
                i += 1
        patch_of: dict[str, str] = {}
        if patches and statuses and len(statuses) <= 300:
            raw_patch = await self.out(full_name, "diff-tree", "-r", "-p", "--no-commit-id", "-M", "-U3", old, new)
            for chunk in re.split(r"(?m)^diff --git ", raw_patch):
                if not chunk.strip():
                    continue
                hunk_at = chunk.find("\n@@")
                header = chunk[: hunk_at if hunk_at >= 0 else len(chunk)]
                match = re.search(r"(?m)^\+\+\+ (?:b/(.*)|/dev/null)$", header) or re.search(
                    r"(?m)^--- a/(.*)$", header
                )
                if match and hunk_at >= 0:
                    removed = re.search(r"(?m)^--- a/(.*)$", header)
                    name = match.group(1) or (removed.group(1) if removed else "")
                    patch_of[name] = chunk[hunk_at + 1 :].rstrip("\n")
        kinds = {"A": "added", "D": "removed", "M": "modified", "T": "changed", "R": "renamed", "C": "copied"}
        files = []
        for letter, path, new_sha, previous in statuses:
            additions, deletions, binary = numbers.get(path, (0, 0, False))
            files.append(
                ChangedFile(
                    filename=path,
                    status=kinds.get(letter, "modified"),
                    additions=additions,
                    deletions=deletions,
                    sha=None if letter == "D" else new_sha,
                    previous_filename=previous,
                    patch=None if binary else patch_of.get(path),
                    binary=binary,
                )
            )
        if is_sha(old) and is_sha(new):
            self._diffs.remember(key, tuple(files))
        return files
