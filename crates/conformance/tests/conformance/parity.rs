//! The three apps side by side: the same request, the same answer.
