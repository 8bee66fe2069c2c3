"""The research branch: ``winnow/<tag>``, worked on in its own git worktree.

The user's checkout is never touched: the loop checks the branch out in a worktree under
``WINNOW_HOME/worktrees/<tag>``. Kept commits advance the branch; every experiment's commit,
kept or not, stays reachable as ``refs/winnow/<tag>/<number>`` so the morning review can show it.
Commits are made by a fixed "Winnow" identity (they are the machine's, not the user's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import git

from harness.errors import InputError
from harness.judge.integrity import (
    HARNESS_DIR,
    harness_files,
    harness_hash,
    part_of_judge,
    tree_hash,
)

EXPERIMENTS = "experiments"
WINNOW = git.Actor("Winnow", "winnow@localhost")


class BranchError(InputError):
    """The repository is not in a state a run can start from."""


@dataclass
class ResearchBranch:
    repo: git.Repo  # the user's repository
    tag: str
    worktree: git.Repo  # the worktree with the research branch checked out

    @property
    def name(self) -> str:
        return f"winnow/{self.tag}"

    @property
    def path(self) -> Path:
        return Path(self.worktree.working_tree_dir or ".")

    @property
    def head(self) -> str:
        return self.worktree.head.commit.hexsha

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def experiment_files(self) -> dict[str, str]:
        """Every file under ``experiments/`` on the current commit: path -> text."""
        root = self.path / EXPERIMENTS
        return {
            p.relative_to(self.path).as_posix(): p.read_text()
            for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }

    def experiments_hash(self, commit: str | None = None) -> str:
        """The git tree id of ``experiments/`` at a commit: equal contents, equal hash."""
        return self.worktree.git.rev_parse(f"{commit or self.head}:{EXPERIMENTS}")

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write ``files`` (paths under experiments/) and commit them on the branch."""
        for relative, text in files.items():
            target = self.path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.worktree.git.add("--all", "--", EXPERIMENTS)
        self.worktree.index.commit(message, author=WINNOW, committer=WINNOW)
        return self.head

    def amend(self, message: str) -> str:
        """Rewrite the message of the commit under test (it then carries its results)."""
        self.worktree.git.commit(
            "--amend", "--allow-empty", "--quiet", "-m", message, env=_identity()
        )
        return self.head

    def keep_ref(self, number: int, commit: str) -> None:
        """Keep an experiment's commit reachable whatever happens to the branch."""
        self.repo.git.update_ref(f"refs/winnow/{self.tag}/{number}", commit)

    def kept_ref(self, number: int) -> str | None:
        """The commit ``keep_ref`` kept for an experiment, or None when there is none yet."""
        found = self.repo.git.for_each_ref(
            "--format=%(objectname)", f"refs/winnow/{self.tag}/{number}"
        )
        return found or None

    def reset(self, commit: str) -> None:
        """Move the branch (and the worktree) back to ``commit``; untracked leftovers go."""
        self.worktree.git.reset("--hard", "--quiet", commit)
        self.worktree.git.clean("-fdq", "--", EXPERIMENTS)

    def harness_hash(self) -> str:
        """The hash of ``harness/`` as committed on the branch."""
        return harness_hash_at(self.worktree, self.head)


def _identity() -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": WINNOW.name or "Winnow",
        "GIT_AUTHOR_EMAIL": WINNOW.email or "winnow@localhost",
        "GIT_COMMITTER_NAME": WINNOW.name or "Winnow",
        "GIT_COMMITTER_EMAIL": WINNOW.email or "winnow@localhost",
    }


def harness_hash_at(repo: git.Repo, commit: str) -> str:
    """The hash of ``harness/`` in a commit, by the same recipe as the running harness's
    (``harness.judge.integrity.harness_hash``); "none" when the commit has no such harness."""
    wanted = {p.relative_to(HARNESS_DIR).as_posix() for p in harness_files()}
    try:
        folder = repo.commit(commit).tree / "harness"
    except KeyError:
        return "none"
    files: dict[str, bytes] = {}
    for item in folder.traverse():
        if isinstance(item, git.Blob):
            name = Path(item.path).relative_to("harness").as_posix()
            if part_of_judge(name):
                files[name] = item.data_stream.read()
    return tree_hash(files) if wanted <= set(files) else "none"


def open_repository(start: Path) -> git.Repo:
    try:
        return git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise BranchError(f"{start} is not inside a git repository") from None


def dirty_paths(repo: git.Repo, home: Path) -> list[str]:
    """Uncommitted changes outside ``WINNOW_HOME`` (which may live inside the repo)."""
    root = Path(repo.working_tree_dir or ".").resolve()
    lines = repo.git.status("--porcelain", "--untracked-files=all").splitlines()
    paths = [line[3:].split(" -> ")[-1].strip('"') for line in lines]
    inside = home.resolve()
    return [p for p in paths if not _within(root / p, inside)]


def _within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def open_branch(repo: git.Repo, tag: str, home: Path) -> tuple[ResearchBranch, bool]:
    """The research branch for ``tag``, created from HEAD when new. Returns (branch, created).

    A new run is refused when the checkout has uncommitted changes outside WINNOW_HOME.
    """
    if not tag or any(c in tag for c in " ~^:?*[\\") or ".." in tag:
        raise BranchError(f"tag {tag!r} is not usable in a git branch name")
    name = f"winnow/{tag}"
    exists = name in [h.name for h in repo.heads]
    start = name if exists else "HEAD"
    if repo.head.is_valid() or exists:
        committed = harness_hash_at(repo, start)
        if committed != harness_hash():
            raise BranchError(
                f"the running harness ({harness_hash()}) differs from harness/ committed at "
                f"{start} ({committed}): results would not be comparable; commit the harness "
                "(and start a new tag if the branch exists)"
            )
    if not exists:
        dirty = dirty_paths(repo, home)
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise BranchError(
                f"the working tree has uncommitted changes ({shown}); commit or stash them "
                f"first: a run starts from the current commit"
            )
        if not repo.head.is_valid():
            raise BranchError("the repository has no commits yet")
        repo.create_head(name, repo.head.commit)
    path = home / "worktrees" / _safe(tag)
    if not (path / ".git").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        repo.git.worktree("prune")
        repo.git.worktree("add", "--quiet", str(path), name)
    worktree = git.Repo(path)
    if worktree.active_branch.name != name:
        raise BranchError(f"{path} is a worktree of {worktree.active_branch.name}, not {name}")
    return ResearchBranch(repo=repo, tag=tag, worktree=worktree), not exists


def _safe(tag: str) -> str:
    return tag.replace("/", "_") + "-" + hashlib.sha256(tag.encode()).hexdigest()[:6]
