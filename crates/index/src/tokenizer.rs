//! shoal's tokenizer inside tantivy: the terms and positions of
//! [`shoal_search::tokenize`], so indexing and queries agree by construction.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

#[derive(Clone, Copy)]
pub(crate) struct ShoalTokenizer;

pub(crate) struct ShoalStream {
    tokens: std::vec::IntoIter<shoal_search::Token>,
    token: Token,
}

impl Tokenizer for ShoalTokenizer {
    type TokenStream<'a> = ShoalStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ShoalStream {
        ShoalStream {
            tokens: shoal_search::tokenize(text).into_iter(),
            token: Token::default(),
        }
    }
}

impl TokenStream for ShoalStream {
    fn advance(&mut self) -> bool {
        let Some(t) = self.tokens.next() else {
            return false;
        };
        self.token.text = t.term;
        self.token.position = t.position as usize;
        self.token.position_length = 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}
